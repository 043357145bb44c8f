"""kubeplan.adapters."""

if __name__ != "kubeplan.adapters":  # pragma: no cover - guards a wrong import path
    raise ImportError(
        "this folder is the package 'kubeplan.adapters'; install kubeplan "
        "(pip install -e .) and import kubeplan.adapters instead of 'adapters'"
    )
