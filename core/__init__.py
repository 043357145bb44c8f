"""kubeplan.core."""

if __name__ != "kubeplan.core":  # pragma: no cover - guards a wrong import path
    raise ImportError(
        "this folder is the package 'kubeplan.core'; install kubeplan "
        "(pip install -e .) and import kubeplan.core instead of 'core'"
    )
