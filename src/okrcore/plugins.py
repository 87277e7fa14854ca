"""The plugin manager: discovery, registration and the registries built from the hooks.

An application that embeds okrcore can make its own :class:`PluginManager` (two applications in one
process then share no plugin state); the command line and the module-level helpers use
:func:`default_manager`. Importing okrcore loads no entry point: discovery happens once, on first
use of a name that is not built in, or of a listing (every plugin, every check); built-in names
resolve without scanning the installed packages.

Environment:

``OKRCORE_LOAD_PLUGINS``
    Comma-separated distribution or entry-point names to load; empty loads none. Unset loads all.
``OKRCORE_DISABLE_PLUGINS``
    Comma-separated names never to load.
"""

from __future__ import annotations

import importlib
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs
import pluggy

from . import hookspecs
from ._log import get_logger
from .errors import PluginError

__all__ = [
    "DEFAULT_PLUGINS",
    "PluginFailure",
    "PluginInfo",
    "PluginManager",
    "default_manager",
]

ENTRY_POINT_GROUP = "okrcore"

log = get_logger(__name__)

# Built-in behaviour, registered through the very same hooks as third-party plugins.
DEFAULT_PLUGINS = (
    "okrcore.default_plugins.stores",
    "okrcore.default_plugins.sources",
    "okrcore.default_plugins.checks",
    "okrcore.default_plugins.policies",
    "okrcore.default_plugins.notify",
    "okrcore.default_plugins.events",
    "okrcore.default_plugins.initiatives",
    "okrcore.default_plugins.templates",
)
# The built-ins each registry needs: opening a store or scoring imports no source or check.
BUILTINS_BY_KIND = {
    "store": ("okrcore.default_plugins.stores",),
    "source": ("okrcore.default_plugins.sources",),
    "check": ("okrcore.default_plugins.checks", "okrcore.default_plugins.sources"),
    "policy": ("okrcore.default_plugins.policies",),
    "notifier": ("okrcore.default_plugins.notify",),
    "template": ("okrcore.default_plugins.templates",),
    "benchmark": (),  # no built-in table: plugins supply them (docs/checks.md, "Benchmarks")
}


@attrs.frozen
class PluginFailure:
    """A plugin that could not be loaded, or a hook implementation that raised.

    ``name`` is the plugin (entry-point or module) name; ``error`` says what went wrong.
    """

    name: str
    error: str
    distribution: str | None = None
    version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``okr plugins --format json``)."""
        return {
            "name": self.name,
            "error": self.error,
            "distribution": self.distribution,
            "version": self.version,
        }


@attrs.frozen
class PluginInfo:
    """What ``okr plugins`` shows for one plugin."""

    name: str
    hooks: tuple[str, ...]
    distribution: str | None = None
    version: str | None = None
    builtin: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``okr plugins --format json``)."""
        return {
            "name": self.name,
            "hooks": list(self.hooks),
            "distribution": self.distribution,
            "version": self.version,
            "builtin": self.builtin,
        }


class Registered:
    """One registered object and the plugin that registered it (a plain class: created on every
    import of okrcore's plugin machinery, where an attrs class costs start-up time)."""

    __slots__ = ("name", "obj", "plugin")

    def __init__(self, name: str, obj: Any, plugin: str) -> None:
        self.name = name
        self.obj = obj
        self.plugin = plugin


class Registry:
    """Named objects of one kind (sources, notifiers, stores...), each with its owner.

    A registry built before the installed plugins were discovered holds the built-ins only, and
    ``complete`` discovers them: a name it does not hold, and any listing (iteration, ``len``,
    :meth:`items`), are answered by the complete registry. So a built-in name resolves without
    scanning the installed packages.
    """

    def __init__(
        self,
        kind: str,
        complete: Callable[[], Registry] | None = None,
        broken: Callable[[], Sequence[PluginFailure]] | None = None,
    ) -> None:
        self.kind = kind
        self._items: dict[str, Registered] = {}
        self._complete = complete
        self._broken = broken

    def _all(self) -> Registry:
        return self if self._complete is None else self._complete()

    def add(self, name: str, obj: Any, plugin: str) -> None:
        """Add ``obj`` under ``name`` for ``plugin``; a name already taken is refused."""
        if not name or not isinstance(name, str):
            raise PluginError(f"plugin {plugin!r} registered a {self.kind} without a name: {obj!r}")
        if name in self._items:
            other = self._items[name].plugin
            raise PluginError(
                f"{self.kind} {name!r} is registered twice: by {other!r} and by {plugin!r}"
            )
        self._items[name] = Registered(name, obj, plugin)

    def get(self, name: str) -> Any:
        """The object registered under ``name``; the error lists the known names."""
        found = self._items.get(name)
        if found is not None:
            return found.obj
        full = self._all()
        if full is not self:
            return full.get(name)
        raise PluginError(f"unknown {self.kind} {name!r} {self.why_missing(name)}")

    def why_missing(self, name: str) -> str:
        """Why ``name`` is not registered, to end a message: the known names, and the installed
        plugins that failed to load (one of them may be the one that provides it)."""
        full = self._all()
        known = ", ".join(sorted(full._items)) or "none"
        broken = list(full._broken()) if full._broken is not None else []
        if not broken:
            return f"(known: {known}); is its plugin installed?"
        failed = "; ".join(
            f"{f.name}" + (f" ({f.distribution} {f.version})" if f.distribution else "")
            + f": {f.error}"
            for f in broken
        )
        plural = "s" if len(broken) > 1 else ""
        return f"(known: {known}); installed but failed to load, plugin{plural} {failed}"

    def owner(self, name: str) -> str:
        """The plugin that registered ``name``."""
        found = self._items.get(name)
        return found.plugin if found is not None else self._all()._items[name].plugin

    def __contains__(self, name: object) -> bool:
        return name in self._items or (self._complete is not None and name in self._all())

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._all()._items))

    def __len__(self) -> int:
        return len(self._all()._items)

    def items(self) -> Mapping[str, Any]:
        """Name -> object, sorted by name."""
        return {name: reg.obj for name, reg in sorted(self._all()._items.items())}


def _env_names(var: str) -> set[str] | None:
    value = os.environ.get(var)
    if value is None:
        return None
    return {n.strip() for n in value.split(",") if n.strip()}


class PluginManager:
    """Holds one set of plugins and the registries built from their hooks.

    ``load_entry_points=False`` skips installed plugins (tests, and embedding applications that
    register their plugins explicitly with :meth:`register`).
    """

    def __init__(self, *, load_entry_points: bool = True, builtins: bool = True) -> None:
        self.pm = pluggy.PluginManager("okrcore")
        self.pm.add_hookspecs(hookspecs)
        self._load_failures: list[PluginFailure] = []
        self._load_entry_points = load_entry_points
        self._builtins = builtins
        self._discovered = False  # the installed plugins, and every built-in
        self._registries: dict[str, Registry] = {}  # by kind, built on first use
        self._hook_failures: dict[str, list[PluginFailure]] = {}  # by kind, as built
        self._lock = threading.RLock()
        self._dists: dict[str, tuple[str, str]] = {}

    # -- loading -----------------------------------------------------------------------------
    def register(self, plugin: object, name: str | None = None) -> str:
        """Register a plugin object (a module or an instance with ``@hookimpl`` methods).

        Registries are rebuilt on next use. Raises :class:`PluginError` when the plugin implements
        a hook okrcore does not know (usually a typo or a plugin for a newer okrcore).
        """
        with self._lock:
            try:
                registered = self.pm.register(plugin, name)
            except pluggy.PluginValidationError as exc:
                raise PluginError(f"plugin {name or plugin!r}: {exc}") from None
            except ValueError as exc:  # pluggy: the name or the object is already registered
                raise PluginError(f"plugin {name or plugin!r}: {exc}") from None
            if registered is None:
                raise PluginError(f"plugin {name or plugin!r} is already registered")
            try:
                self.pm.check_pending()
            except pluggy.PluginValidationError as exc:
                self.pm.unregister(plugin)
                hint = _did_you_mean(str(exc))
                raise PluginError(f"plugin {registered!r}: {exc}{hint}") from None
            self._registries.clear()
            return registered

    def unregister(self, name: str) -> None:
        """Remove a plugin by name; registries are rebuilt on next use."""
        with self._lock:
            self.pm.unregister(name=name)
            self._registries.clear()

    def load_module(self, dotted: str) -> None:
        """Import and register a module by dotted name (a plan's ``plugins`` list uses this)."""
        if self.pm.has_plugin(dotted):
            return
        try:
            module = importlib.import_module(dotted)
        except Exception as exc:  # a broken plugin must not take everything down with it
            raise PluginError(f"cannot load plugin module {dotted!r}: {exc}") from exc
        self.register(module, dotted)
        log.info("loaded plugin module %s (named by the plan)", dotted)

    def _load_builtins(self, modules: Iterable[str] = DEFAULT_PLUGINS) -> None:
        if not self._builtins:
            return
        with self._lock:
            for dotted in modules:
                if not self.pm.has_plugin(dotted):
                    self.register(importlib.import_module(dotted), dotted)
                    log.debug("registered built-in plugin %s", dotted)

    def discover(self) -> None:
        """Load every built-in and (unless disabled) the installed entry points, once.

        Registries call this themselves when a name is not built in or a listing is asked for;
        call it to load every plugin up front.
        """
        with self._lock:
            self._load_builtins()
            if self._discovered:
                return
            self._discovered = True
            if self._load_entry_points:
                self._load_installed()
                self._registries.clear()

    def _load_installed(self) -> None:
        import importlib.metadata  # scanning the installed packages is the slow part: only here

        allow = _env_names("OKRCORE_LOAD_PLUGINS")
        deny = _env_names("OKRCORE_DISABLE_PLUGINS") or set()
        log.debug("discovering installed plugins (entry-point group %r)", ENTRY_POINT_GROUP)
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist.name if ep.dist is not None else None
            names = {ep.name, dist} - {None}
            if (allow is not None and not names & allow) or names & deny:
                log.debug("plugin %s not loaded (OKRCORE_LOAD_PLUGINS/DISABLE_PLUGINS)", ep.name)
                continue
            if self.pm.has_plugin(ep.name):
                continue
            version = ep.dist.version if ep.dist is not None else None
            try:
                plugin = ep.load()
                self.register(plugin, ep.name)
            except Exception as exc:  # report, and keep every other plugin working
                error = str(exc) if isinstance(exc, PluginError) else f"{type(exc).__name__}: {exc}"
                self._load_failures.append(PluginFailure(ep.name, error, dist, version))
                log.warning("plugin %s (%s %s) failed to load: %s", ep.name, dist, version, error)
                continue
            log.info("loaded plugin %s (%s %s)", ep.name, dist, version)
            if dist is not None and version is not None:
                self._dists[ep.name] = (dist, version)

    # -- registries ----------------------------------------------------------------------------
    def _registry(self, kind: str, *, complete: bool = True) -> Registry:
        """The registry of ``kind``; with ``complete=False`` possibly of the built-ins only, which
        discovers the installed plugins itself when asked for a name it does not hold."""
        with self._lock:
            if complete:
                self.discover()
            else:
                self._load_builtins(BUILTINS_BY_KIND[kind])
            found = self._registries.get(kind)
            if found is not None:
                return found
            partial = self._load_entry_points and not self._discovered
            hook_name, key = REGISTRY_HOOKS[kind]
            registry = Registry(
                kind,
                (lambda: self._registry(kind)) if partial else None,
                lambda: [*self._load_failures, *self._hook_failures.get(kind, [])],
            )
            hook = getattr(self.pm.hook, hook_name)
            # Built-ins first, then plugins in registration order, so a plugin that reuses a
            # built-in name is the one refused.
            impls = sorted(hook.get_hookimpls(), key=lambda i: i.plugin_name not in DEFAULT_PLUGINS)
            failures: list[PluginFailure] = []
            for impl in impls:
                owner = impl.plugin_name

                def register(*args: Any, _owner: str = owner) -> None:
                    name, obj = key(args)
                    registry.add(name, obj, _owner)

                try:
                    impl.function(**({"register": register} if impl.argnames else {}))
                except Exception as exc:  # one bad plugin must not hide every other one
                    text = str(exc) if isinstance(exc, PluginError) else _exc_text(exc)
                    dist, version = self._dists.get(owner, (None, None))
                    failures.append(PluginFailure(owner, f"{hook_name}: {text}", dist, version))
            self._registries[kind] = registry
            self._hook_failures[kind] = failures
            return registry

    @property
    def failures(self) -> list[PluginFailure]:
        """Installed plugins that could not be loaded (asking discovers them)."""
        self.discover()
        return list(self._load_failures)

    @property
    def hook_failures(self) -> list[PluginFailure]:
        """Registration hooks that raised (or whose registration was refused)."""
        for kind in REGISTRY_HOOKS:
            self._registry(kind)
        return [f for kind in REGISTRY_HOOKS for f in self._hook_failures.get(kind, [])]

    @property
    def all_failures(self) -> list[PluginFailure]:
        """Plugins that failed to load, and registration hooks that raised (or were refused)."""
        return [*self.failures, *self.hook_failures]

    def call_event(self, hook_name: str, **kwargs: Any) -> list[PluginFailure]:
        """Call an event hook (``okrcore_refresh_finished``) on every plugin implementing it.

        Each implementation gets only the arguments it names. One that raises does not stop the
        others; its error is returned (and not raised).
        """
        failures: list[PluginFailure] = []
        for name, call in self.hook_callers(hook_name):
            try:
                call(**kwargs)
            except Exception as exc:  # reported by the caller; an event never undoes work
                dist, version = self._dists.get(name, (None, None))
                failures.append(
                    PluginFailure(name, f"{hook_name}: {_exc_text(exc)}", dist, version)
                )
        return failures

    def hook_callers(self, hook_name: str) -> list[tuple[str, Callable[..., Any]]]:
        """``(plugin name, call)`` for each implementation of an event hook, in pluggy's order;
        ``call(**kwargs)`` passes the implementation only the arguments it names. For callers
        that handle each implementation on its own (:func:`okrcore.events.send_events`)."""
        self.discover()
        out: list[tuple[str, Callable[..., Any]]] = []
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():

            def call(_impl: Any = impl, **kwargs: Any) -> Any:
                return _impl.function(**{name: kwargs[name] for name in _impl.argnames})

            out.append((impl.plugin_name, call))
        return out

    @property
    def sources(self) -> Registry:
        """Metric-source classes by name."""
        return self._registry("source", complete=False)

    @property
    def notifiers(self) -> Registry:
        """Notifier classes by name."""
        return self._registry("notifier", complete=False)

    @property
    def stores(self) -> Registry:
        """Store factories by URL scheme."""
        return self._registry("store", complete=False)

    @property
    def checks(self) -> Registry:
        """Quality-check rules by name."""
        return self._registry("check", complete=False)

    @property
    def policies(self) -> Registry:
        """Grading and status policies by ``"grading:NAME"`` / ``"status:NAME"``."""
        return self._registry("policy", complete=False)

    @property
    def templates(self) -> Registry:
        """Plan templates (``okr init``) by name."""
        return self._registry("template", complete=False)

    @property
    def benchmarks(self) -> Registry:
        """Benchmark ranges (the Achievable check) by name, from every installed plugin."""
        return self._registry("benchmark")

    @property
    def hook(self) -> Any:
        """The pluggy hook relay, for event hooks such as ``okrcore_refresh_finished``."""
        self.discover()
        return self.pm.hook

    def plugins(self, *, all: bool = False) -> list[PluginInfo]:
        """Every loaded plugin with the hooks it implements; built-ins only with ``all``."""
        self.discover()
        out = []
        for name, plugin in self.pm.list_name_plugin():
            builtin = name in DEFAULT_PLUGINS
            if builtin and not all:
                continue
            hooks = tuple(sorted(h.name for h in self.pm.get_hookcallers(plugin) or ()))
            dist, version = self._dists.get(name, (None, None))
            out.append(PluginInfo(name, hooks, dist, version, builtin))
        return sorted(out, key=lambda p: p.name)




def _did_you_mean(message: str) -> str:
    """For pluggy's "unknown hook 'x' in plugin ...": the closest okrcore hook names."""
    match = re.search(r"unknown hook '([^']+)'", message)
    if match is None:
        return ""
    import difflib  # only for this error message

    close = difflib.get_close_matches(match.group(1), hook_names(), n=2, cutoff=0.6)
    if close:
        return "; did you mean " + " or ".join(repr(c) for c in close) + "?"
    return "; okrcore's hooks: " + ", ".join(hook_names())


def _exc_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _named(args: tuple[Any, ...]) -> tuple[str, Any]:
    return getattr(args[0], "name", ""), args[0]


def _policy_key(args: tuple[Any, ...]) -> tuple[str, Any]:
    policy = args[0]
    return f"{getattr(policy, 'role', '')}:{getattr(policy, 'name', '')}", policy


def _store_key(args: tuple[Any, ...]) -> tuple[str, Any]:
    return args[0], args[1]


KeyFunc = Callable[[tuple[Any, ...]], tuple[str, Any]]

# Registry kind -> the hook that fills it and how a registration names its object.
REGISTRY_HOOKS: dict[str, tuple[str, KeyFunc]] = {
    "source": ("okrcore_register_sources", _named),
    "notifier": ("okrcore_register_notifiers", _named),
    "store": ("okrcore_register_stores", _store_key),
    "check": ("okrcore_register_checks", _named),
    "policy": ("okrcore_register_policies", _policy_key),
    "template": ("okrcore_register_templates", _named),
    "benchmark": ("okrcore_register_benchmarks", _named),
}


_default: PluginManager | None = None
_made: tuple[tuple[str | None, str | None], PluginManager] | None = None  # env it was made for
_default_lock = threading.Lock()


def default_manager() -> PluginManager:
    """The process-wide manager used by the command line and the module-level helpers.

    It is made on first use. If ``OKRCORE_LOAD_PLUGINS`` or ``OKRCORE_DISABLE_PLUGINS`` changed
    since, a fresh one is made, so the environment always decides which plugins load.
    """
    global _default, _made
    key = (os.environ.get("OKRCORE_LOAD_PLUGINS"), os.environ.get("OKRCORE_DISABLE_PLUGINS"))
    with _default_lock:
        ours = _made is not None and _made[1] is _default
        if _default is None or (ours and _made is not None and _made[0] != key):
            _default = PluginManager()
            _made = (key, _default)
        return _default


def load_plugin_modules(manager: PluginManager, modules: Iterable[str]) -> None:
    """Load the extra plugin modules a plan names (``plugins: [...]``)."""
    for dotted in modules:
        manager.load_module(dotted)


# -- hook reference ------------------------------------------------------------------------------
HOOK_REFERENCE_INTRO = """\
# Hook reference

<!-- Generated from src/okrcore/hookspecs.py by okrcore.plugins.hook_reference(); do not edit.
     Regenerate: python -c "from okrcore.plugins import hook_reference as h; print(h(), end='')" \
> docs/hooks.md -->

Every hook okrcore calls, with its exact signature. Implement one with `@okrcore.hookimpl` on a
function (or method) of the same name in your plugin module, and name only the arguments you
need: pluggy passes an implementation just those, so hooks can gain arguments without breaking
plugins. A plugin that implements a hook not listed here is refused and reported by
`okr plugins`. See [Writing plugins](plugins.md) for a complete example.
"""


def hook_signature(name: str) -> str:
    """A hook's signature as written in hookspecs.py: ``name(arg: type, ...) -> type``."""
    import inspect

    sig = inspect.signature(getattr(hookspecs, name))

    def text(annotation: Any) -> str:  # annotations are strings (postponed evaluation)
        return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)

    args = ", ".join(f"{p.name}: {text(p.annotation)}" for p in sig.parameters.values())
    return f"{name}({args}) -> {text(sig.return_annotation)}"


def hook_names() -> list[str]:
    """The names of every okrcore hook, in the order hookspecs.py declares them."""
    import inspect

    return [
        name
        for name, func in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("okrcore_")
        and getattr(func, "okrcore_spec", None) is not None
    ]


def hook_reference() -> str:
    """docs/hooks.md: one heading per hook with its arguments, its signature and its docstring."""
    import inspect

    parts = [HOOK_REFERENCE_INTRO]
    order = {name: inspect.getsourcelines(getattr(hookspecs, name))[1] for name in hook_names()}
    for name in sorted(order, key=order.__getitem__):
        func = getattr(hookspecs, name)
        args = ", ".join(inspect.signature(func).parameters)
        doc = inspect.cleandoc(func.__doc__ or "")
        doc = re.sub(r":(?:class|func|meth|attr):`([^`]+)`", r"`\1`", doc).replace("``", "`")
        parts.append(
            f"\n## {name}({args})\n\n```python\n@hookimpl\ndef {hook_signature(name)}: ...\n```\n"
            f"\n{doc}\n"
        )
    return "".join(parts)
