"""Resource types: what kind of object a parent or child is, and where it lives in the API."""

from __future__ import annotations

from collections.abc import Mapping

import attrs


@attrs.frozen(order=True)
class K8sType:
    """One Kubernetes resource type, e.g. ``K8sType("apps/v1", "Deployment", "deployments")``.

    ``api_version`` is ``group/version`` (or just ``v1`` for the core group); ``plural`` is
    the lower-case resource name used in URLs; ``namespaced`` says whether objects live in a
    namespace. Types are values: equal fields mean the same type, so they can key dicts.
    """

    api_version: str
    kind: str
    plural: str
    namespaced: bool = True

    @property
    def group(self) -> str:
        """The API group ("" for the core group)."""
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    @property
    def key(self) -> str:
        """A stable short name, ``plural.group`` as kubectl writes it (``deployments.apps``)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        """The REST path of the collection, or of one object when ``name`` is given."""
        prefix = f"/apis/{self.api_version}" if self.group else f"/api/{self.api_version}"
        if self.namespaced and namespace:
            prefix += f"/namespaces/{namespace}"
        prefix += f"/{self.plural}"
        return f"{prefix}/{name}" if name else prefix

    def matches(self, obj: Mapping[str, object]) -> bool:
        """Whether a raw object is of this type (by apiVersion and kind)."""
        return obj.get("apiVersion") == self.api_version and obj.get("kind") == self.kind

    def __str__(self) -> str:
        return f"{self.api_version}/{self.kind}"
