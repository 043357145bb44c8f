"""The `kubeplan` subcommands, one module each.

Every command module defines ``HELP`` (one line), ``configure(parser)`` to add its
arguments and ``run(args) -> int`` returning the process exit code. The commands live
in the root package because some compose several layers (``run --embedded`` starts the
testkit's fake API server and the adapters' runtime together).
"""

# name on the command line -> module holding it, in the order `kubeplan --help` lists them
COMMANDS: dict[str, str] = {
    "demo": "kubeplan.commands.demo",
    "run": "kubeplan.commands.run",
    "plan": "kubeplan.commands.plan",
    "crd": "kubeplan.commands.crd",
    "manifests": "kubeplan.commands.manifests",
    "fake-apiserver": "kubeplan.commands.fake_apiserver",
    "kube-apiserver": "kubeplan.commands.kube_apiserver",
}
