"""kubeplan: Kubernetes operators as pure functions.

The layers live in their own packages:

- ``kubeplan.core``: pure types, snapshots and the planner (no I/O).
- ``kubeplan.adapters``: the runtime on kubernetes_asyncio (watch, queue, executor).
- ``kubeplan.testkit``: the fake API server, scenarios, strategies and invariants.

This root package only holds the version and the command-line entry point, which
composes all three layers (the CLI's ``--embedded`` mode needs the testkit's fake
API server, and adapters may not import the testkit).
"""

__version__ = "0.1.0"
