"""A real Kubernetes control plane for tests: kube-apiserver, kube-controller-manager and
etcd, built from Go modules (or taken from ``KUBEBUILDER_ASSETS``) and started on
127.0.0.1. It is the reference the fake API server is measured against.

- ``ensure_assets()`` finds or builds the binaries (``assets``);
- ``RealKubeApiServer(assets)`` starts and stops one control plane (``cluster``).
"""

from kubeplan.testkit.realkube.assets import (
    AssetsUnavailable,
    KubeAssets,
    build_assets,
    cache_folder,
    ensure_assets,
    find_assets,
    kube_version,
)
from kubeplan.testkit.realkube.cluster import RealKubeApiServer, RealKubeError

__all__ = [
    "AssetsUnavailable",
    "KubeAssets",
    "RealKubeApiServer",
    "RealKubeError",
    "build_assets",
    "cache_folder",
    "ensure_assets",
    "find_assets",
    "kube_version",
]
