"""kubeplan.testkit."""

if __name__ != "kubeplan.testkit":  # pragma: no cover - guards a wrong import path
    raise ImportError(
        "this folder is the package 'kubeplan.testkit'; install kubeplan "
        "(pip install -e .) and import kubeplan.testkit instead of 'testkit'"
    )
