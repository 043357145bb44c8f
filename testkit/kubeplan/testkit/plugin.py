"""kubeplan's pytest plugin (registered through the ``pytest11`` entry point).

Fixtures:

- ``fake_apiserver``: a started in-process ``FakeApiServer`` (stopped after the test);
  ``@pytest.mark.kubeplan_controllers("kubelet", "workloads")`` adds emulated controllers
  to its default ones (so pods turn Ready and Deployments roll out);
- ``fake_apiserver_http``: its HTTP face on 127.0.0.1, with ``.url`` and ``.kubeconfig``
  (a kubeconfig file pointing at it, for kubectl or any Kubernetes client);
- ``operator_harness``: ``harness = await operator_harness(definition)`` starts the
  operator against ``fake_apiserver`` (its CRD installed first) and gives
  ``apply_parent``, ``delete_parent``, ``settle()``, ``children()``, ``parent()``,
  ``resync_writes()`` and ``stop()``; every harness is stopped after the test
  (``identity=`` runs it as a ServiceAccount, authorised by RBAC);
- ``operator_service_account``: ``access = await operator_service_account(definition)``
  applies to ``fake_apiserver`` the ServiceAccount and RBAC ``kubeplan manifests``
  generates and gives its identity and token (``kubeplan.testkit.permissions``);
- ``kubeplan_scenario``: ``trace = kubeplan_scenario(definition, scenario_or_yaml)`` runs
  a scenario in virtual time and asserts every invariant (in a synchronous test);
- ``kube_apiserver``: a ``KubeEndpoint`` (url, kubeconfig, admin ``request()``, a fresh
  ``namespace``) for a test that must hold on either server. ``--kube-apiserver=fake``
  (the default) gives kubeplan's fake in its own process, ``real`` a real
  kube-apiserver with its controller manager (``kubeplan.testkit.realkube``), ``both``
  runs each such test once per server. Both servers are started once per session;
  ``real_kube_apiserver`` is the real one alone (skipped where it cannot be had).

The async fixtures need pytest-asyncio (kubeplan's ``test`` extra); without it the plugin
still loads, so installing kubeplan never breaks an unrelated pytest run.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from kubeplan.adapters.errors import AlreadyExists
from kubeplan.adapters.settings import RuntimeSettings
from kubeplan.core.crd import parent_crd
from kubeplan.core.objects import uid_of
from kubeplan.testkit.apiserver.authn import UserInfo
from kubeplan.testkit.apiserver.controllers import parse_controllers
from kubeplan.testkit.apiserver.http import FakeApiHttpServer, write_kubeconfig
from kubeplan.testkit.apiserver.server import FakeApiServer
from kubeplan.testkit.endpoint import KubeEndpoint
from kubeplan.testkit.permissions import ServiceAccountAccess, generated_service_account
from kubeplan.testkit.realkube.assets import KubeAssets
from kubeplan.testkit.scenario import Scenario
from kubeplan.testkit.simulation import Simulation, as_definition, install_crd
from kubeplan.testkit.trace import ClusterState, Trace, WriteRecord

if TYPE_CHECKING:
    from pytest_asyncio import fixture as _async_fixture
else:
    try:
        from pytest_asyncio import fixture as _async_fixture
    except ImportError:  # pragma: no cover - the plugin loads without pytest-asyncio
        _async_fixture = pytest.fixture

__all__ = [
    "OperatorHarness",
    "fake_apiserver",
    "fake_apiserver_http",
    "kube_apiserver",
    "kubeplan_scenario",
    "operator_harness",
    "real_assets_or_skip",
    "real_kube_apiserver",
]

RawObject = dict[str, Any]


@_async_fixture
async def fake_apiserver(request: pytest.FixtureRequest) -> AsyncIterator[FakeApiServer]:
    """A started in-process fake API server on the test's event loop; the
    ``kubeplan_controllers`` marker names emulated controllers to add to its defaults."""
    marker = request.node.get_closest_marker("kubeplan_controllers")
    controllers: bool | frozenset[str] = True
    if marker is not None:
        controllers = parse_controllers(",".join(str(name) for name in marker.args))
    async with FakeApiServer(controllers=controllers) as server:
        yield server


@_async_fixture
async def fake_apiserver_http(
    fake_apiserver: FakeApiServer, tmp_path: Path
) -> AsyncIterator[FakeApiHttpServer]:
    """The HTTP face of ``fake_apiserver`` on 127.0.0.1; ``.kubeconfig`` is a file path."""
    async with FakeApiHttpServer(fake_apiserver) as http:
        http.kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", http.url)  # type: ignore[attr-defined]
        yield http


class OperatorHarness:
    """One operator running against ``fake_apiserver``, with helpers to drive and inspect it.

    Writes go through a client with its own user, so ``resync_writes()`` and the request
    log tell the test's writes from the operator's.
    """

    def __init__(self, simulation: Simulation) -> None:
        self.simulation = simulation
        self.server = simulation.server
        self.client = simulation.client
        self.definition = simulation.definition
        self.config = simulation.config

    @property
    def operator(self) -> Any:
        """The running ``kubeplan.adapters.runtime.Operator``."""
        return self.simulation.operator

    def _namespace(self, namespace: str | None) -> str | None:
        return (namespace or "default") if self.config.parent.namespaced else None

    async def apply_parent(
        self, name_or_obj: str | RawObject, spec: RawObject | None = None, *,
        namespace: str | None = None,
    ) -> RawObject:
        """Create a parent (a whole object, or a name and a spec), or, if it exists, merge
        its spec in. Returns the stored parent."""
        parent_type = self.config.parent
        if isinstance(name_or_obj, dict):
            obj = dict(name_or_obj)
        else:
            obj = {
                "apiVersion": parent_type.api_version,
                "kind": parent_type.kind,
                "metadata": {"name": name_or_obj},
                "spec": dict(spec or {}),
            }
        meta = dict(obj.get("metadata") or {})
        ns = self._namespace(meta.get("namespace") or namespace)
        if ns:
            meta["namespace"] = ns
        obj["metadata"] = meta
        try:
            return await self.client.create(parent_type, obj)
        except AlreadyExists:
            patch = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
            return await self.client.patch(parent_type, meta["name"], patch, namespace=ns)

    async def delete_parent(self, name: str, *, namespace: str | None = None) -> None:
        await self.client.delete(self.config.parent, name, self._namespace(namespace))

    async def settle(self) -> None:
        """Wait until the operator has nothing left to do (raises ``HotLoop`` if it never
        goes quiet)."""
        await self.simulation.settle()

    def parent(self, name: str, *, namespace: str | None = None) -> RawObject | None:
        """The stored parent, or None."""
        type_ = self.config.parent
        return self.server.get_object(
            type_.api_version, type_.plural, name, self._namespace(namespace)
        )

    def children(self, name: str, *, namespace: str | None = None) -> list[RawObject]:
        """The stored children owned by the parent ``name`` (all child types, sorted)."""
        parent = self.parent(name, namespace=namespace)
        if parent is None:
            return []
        return [obj for _, obj in self.state().owned_by(uid_of(parent))]

    def state(self) -> ClusterState:
        return self.simulation.state()

    async def resync_writes(self) -> list[WriteRecord]:
        """Sync every parent once more and return the operator's writes (quiet: none)."""
        return await self.simulation.resync_writes()

    async def assert_converges(self, parent: str | RawObject | Path) -> RawObject:
        """Apply ``parent`` (an object, or a YAML file holding one), settle, and assert the
        operator converged on it: the parent reports ``Synced=True``, it has children, and
        a further resync writes nothing. Returns the stored parent."""
        if isinstance(parent, Path):
            loaded: RawObject = yaml.safe_load(parent.read_text())
            parent = loaded
        await self.apply_parent(parent)
        await self.settle()
        meta = (parent.get("metadata") or {}) if isinstance(parent, dict) else {}
        name = meta.get("name") if isinstance(parent, dict) else parent
        stored = self.parent(str(name), namespace=meta.get("namespace"))
        assert stored is not None, f"parent {name} is gone after settling"
        status = stored.get("status") or {}
        synced = [c for c in status.get("conditions") or () if c.get("type") == "Synced"]
        assert synced and synced[0].get("status") == "True", (
            f"parent {name} did not converge: status {status}"
        )
        assert self.children(str(name), namespace=meta.get("namespace")), (
            f"parent {name} converged with no children"
        )
        writes = await self.resync_writes()
        assert not writes, f"parent {name} is not quiet: a resync wrote {writes}"
        return stored

    def trace(self) -> Trace:
        """What happened so far: plans and writes (``str()`` for the readable text)."""
        return self.simulation.finish_trace()

    async def stop(self) -> None:
        await self.simulation.stop()


@_async_fixture
async def operator_harness(
    fake_apiserver: FakeApiServer,
) -> AsyncIterator[Callable[..., Awaitable[OperatorHarness]]]:
    """``harness = await operator_harness(definition, settings=None, identity=None)``: a
    started operator (acting as ``identity``, say a ``generated_service_account(...).user``,
    instead of the admin when given)."""
    started: list[OperatorHarness] = []

    async def start(operator: Any, *, settings: RuntimeSettings | None = None,
                    identity: UserInfo | None = None) -> OperatorHarness:
        definition = as_definition(operator)
        crd = parent_crd(definition)  # None: a built-in parent type
        if crd is not None:
            with contextlib.suppress(AlreadyExists):  # a second operator of the same type
                await install_crd(fake_apiserver, crd)
        simulation = Simulation(fake_apiserver, definition, settings=settings,
                                identity=identity)
        await simulation.start()
        harness = OperatorHarness(simulation)
        started.append(harness)
        return harness

    yield start
    for harness in started:
        await harness.stop()


@_async_fixture
async def operator_service_account(
    fake_apiserver: FakeApiServer,
) -> Callable[..., Awaitable[ServiceAccountAccess]]:
    """``access = await operator_service_account(definition, namespace="default",
    replicas=1, edit=None)``: ``generated_service_account`` on ``fake_apiserver``; run the
    operator as it with ``operator_harness(definition, identity=access.user)``."""
    async def make(operator: Any, **options: Any) -> ServiceAccountAccess:
        return await generated_service_account(fake_apiserver, as_definition(operator),
                                               **options)

    return make


def _load(scenario: Scenario | str | Path) -> Scenario:
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, Path) or (
        "\n" not in scenario and scenario.endswith((".yaml", ".yml"))
    ):
        return Scenario.load(scenario)
    return Scenario.from_yaml(scenario)


@pytest.fixture
def kubeplan_scenario() -> Iterator[Callable[..., Trace]]:
    """``kubeplan_scenario(definition, scenario, check=True, **options) -> Trace``.

    ``scenario`` is a ``Scenario``, YAML text or a ``.yaml`` path (a saved failure). With
    ``check`` every invariant is asserted (options as for ``check_scenario``); without it
    the trace is returned for the test's own assertions.
    """

    def run(operator: Any, scenario: Scenario | str | Path, *, check: bool = True,
            **options: Any) -> Trace:
        from kubeplan.testkit.check import check_scenario
        from kubeplan.testkit.runner import run_scenario

        loaded = _load(scenario)
        if check:
            return check_scenario(operator, loaded, **options)
        return run_scenario(operator, loaded, **options)

    yield run


# -- either server: the fake in its own process, or a real kube-apiserver ---------------

SERVER_CHOICES = ("fake", "real", "both")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kubeplan")
    group.addoption(
        "--kube-apiserver", choices=SERVER_CHOICES, default="fake",
        help="which API server the kube_apiserver fixture gives: kubeplan's fake "
             "(default), a real kube-apiserver built from Go modules, or both")


#: pytest-asyncio warns in every run whose configuration leaves this unset
_LOOP_SCOPE_INI = "asyncio_default_fixture_loop_scope"


@pytest.hookimpl(tryfirst=True)  # before pytest-asyncio's own pytest_configure reads it
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "real_server: runs on a real kube-apiserver (fixture real_kube_apiserver)")
    config.addinivalue_line(
        "markers", "kubeplan_controllers(*names): emulated controllers the fake_apiserver "
                   "fixture adds to its defaults (kubelet, workloads, serviceaccount, rootca)")
    _default_fixture_loop_scope(config)


def _default_fixture_loop_scope(config: pytest.Config) -> None:
    """Give ``asyncio_default_fixture_loop_scope`` the value pytest-asyncio will default
    to (``function``) when the user's configuration does not set it, so that installing
    kubeplan adds no deprecation warning to every run. A value the user sets wins.

    pytest has no public way for a plugin to give another plugin's ini option a default:
    the value goes into the cache ``Config.getini`` reads first (left alone if that
    private cache is missing in some pytest version).
    """
    try:
        if config.getini(_LOOP_SCOPE_INI):
            return
    except ValueError:  # pytest-asyncio is not installed: nothing registers the option
        return
    cache = getattr(config, "_inicache", None)
    if isinstance(cache, dict):
        cache[_LOOP_SCOPE_INI] = "function"


def selected_servers(config: pytest.Config) -> list[str]:
    choice = config.getoption("--kube-apiserver", default="fake")
    return ["fake", "real"] if choice == "both" else [str(choice)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "kube_apiserver" in metafunc.fixturenames:
        metafunc.parametrize("kube_apiserver", selected_servers(metafunc.config),
                             indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # a test on the real server alone runs only when the real server was asked for
    if "real" in selected_servers(config):
        return
    skip = pytest.mark.skip(reason="needs the real kube-apiserver: run pytest with "
                                   "--kube-apiserver=real (or both)")
    for item in items:
        if "real_kube_apiserver" in getattr(item, "fixturenames", ()):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def _fake_apiserver_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeEndpoint]:
    from kubeplan.testkit.processes import FakeApiServerProcess

    folder = tmp_path_factory.mktemp("fake-apiserver")
    with FakeApiServerProcess(folder / "kubeconfig") as process:
        yield KubeEndpoint("fake", process.url, process.kubeconfig)


def real_assets_or_skip() -> KubeAssets:
    """The real control plane's binaries for a test: found, or built once (a build that
    fails fails the test); skipped, with the reason, where there are none and no Go."""
    import shutil

    from kubeplan.testkit.realkube import AssetsUnavailable, ensure_assets, find_assets

    try:
        if find_assets() is None and shutil.which("go") is None:
            pytest.skip("no real kube-apiserver: KUBEBUILDER_ASSETS is not set, the cache "
                        "is empty and there is no `go` on PATH to build one")
        return ensure_assets()
    except AssetsUnavailable as exc:
        pytest.fail(f"the real kube-apiserver could not be had: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def _real_apiserver_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeEndpoint]:
    from kubeplan.testkit.realkube import RealKubeApiServer

    assets = real_assets_or_skip()
    with RealKubeApiServer(assets) as server:
        yield server.endpoint()
        server.check()  # a part that died during the session fails it loudly


def _fresh_namespace(endpoint: KubeEndpoint, request: pytest.FixtureRequest) -> Iterator[
        KubeEndpoint]:
    import re
    import secrets

    base = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower())[:40].strip("-")
    name = f"{base}-{secrets.token_hex(3)}"
    endpoint.request("POST", "/api/v1/namespaces",
                     {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    try:
        yield endpoint.with_namespace(name)
    finally:
        with contextlib.suppress(Exception):
            endpoint.request("DELETE", f"/api/v1/namespaces/{name}", expect=(200, 202, 404))


@pytest.fixture
def real_kube_apiserver(_real_apiserver_session: KubeEndpoint,
                        request: pytest.FixtureRequest) -> Iterator[KubeEndpoint]:
    """The session's real kube-apiserver, with a namespace made for this test."""
    yield from _fresh_namespace(_real_apiserver_session, request)


@pytest.fixture
def kube_apiserver(request: pytest.FixtureRequest) -> Iterator[KubeEndpoint]:
    """The server ``--kube-apiserver`` chose (``request.param``), with a fresh namespace."""
    kind = getattr(request, "param", "fake")
    session = request.getfixturevalue(
        "_real_apiserver_session" if kind == "real" else "_fake_apiserver_process")
    yield from _fresh_namespace(session, request)
