"""kubeplan's pytest plugin (registered through the ``pytest11`` entry point).

Fixtures are added as the testkit grows; see the testing guide in the README.
"""
