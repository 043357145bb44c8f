"""Server-side apply and managedFields bookkeeping.

A field-set algorithm modelled on sigs.k8s.io/structured-merge-diff (``merge.Updater``)
and apimachinery's ``managedfields`` package:

* A *field set* is a set of paths; a path is a tuple of encoded path elements
  exactly as they appear in ``fieldsV1``: ``f:<field>``, ``k:{"name":"a"}`` for
  items of keyed lists, ``v:"x"`` for items of set lists.
* **Apply** (``apply``): the config's field set becomes the applier's set; the
  config is merged into the live object (maps recursively, keyed and set lists per
  item, other lists atomically); fields the applier owned before but no longer
  applies are removed unless some other manager (Apply or Update) still owns them;
  a field another manager owns whose value the apply changes is a conflict
  (:class:`ApplyConflict`) unless ``force``, which moves ownership.
* **Update** (``record_update``, for create/update/patch): the fields that changed
  become the writer's (merged with its previous set), are taken away from every
  other manager, removed fields leave every set, and empty entries disappear.

Ownership entries are keyed by (manager, operation, subresource) like the real
server, so ``kubectl`` applying and ``kubectl`` editing are two owners.

Simplified compared with the real server (documented so tests do not rely on it):

* The schema is what ``list_keys`` says of a path: list types and keys, atomic structs
  and maps (owned, merged and compared whole), the schema defaults of list keys (an
  item lacking a key field is keyed by its default: ``protocol: TCP``), atomic list
  items, and which nodes are in the Go zero value (a create's entry has no ``.`` for
  them). Built-in kinds get it from upstream's generated schema (``builtin_fields``),
  custom resources from their CRD's markers. Entries of ``map[string]T`` with a
  non-scalar ``T`` get no ``.`` of their own (the real server gives them one).
* Pruning what an applier gave up removes a list item it owned whole, though another
  manager owned a field inside it (that field goes too), like structured-merge-diff.
* A ``null`` in an apply config removes the field (and the applier owns it).
* No version conversion of managed fields, no cap on the number of Update managers
  (``ancient-changes``), no ``last-applied-configuration`` annotation upgrade.
* Status handling: the store pre-filters nothing. Pass ``has_status_subresource``;
  then for the main resource ``status`` is dropped from the config and kept from the
  live object, and for ``subresource="status"`` only ``status`` is taken from the
  config (everything else stays as live).

The parts, each importing only those before it: ``paths`` (paths and list rules),
``memo`` (the memo tables), ``fieldsv1`` (encoding and decoding ``fieldsV1``),
``fieldsets`` (the field set of a value, comparing two values), ``merge`` (merging a
config into a live object, removing paths), ``managedfields`` (the entries),
``creates`` (a create's ``fieldsV1`` built straight from the object) and
``operations`` (``apply``, ``record_update`` and their errors).
"""

from __future__ import annotations

from kubeplan.testkit.apiserver.ssa.fieldsv1 import decode_fields, encode_fields
from kubeplan.testkit.apiserver.ssa.operations import (
    ApplyConflict,
    ApplyError,
    apply,
    record_update,
)
from kubeplan.testkit.apiserver.ssa.paths import ListKeys, path_to_string

__all__ = [
    "ApplyConflict",
    "ApplyError",
    "ListKeys",
    "apply",
    "decode_fields",
    "encode_fields",
    "path_to_string",
    "record_update",
]
