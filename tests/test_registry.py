"""seqadv.registry: decorator and lazy registration, dotted paths, entry points, errors."""

from __future__ import annotations

import importlib.metadata
import sys
import textwrap
import uuid

import pytest

from seqadv.errors import ConfigError, UnknownNameError
from seqadv.registry import Entry, Registry, check_kwargs, import_dotted


@pytest.fixture
def shapes() -> Registry:
    reg = Registry("shape")

    @reg.register("square", summary="a square")
    def square(size: float = 1.0) -> float:
        """Area of a square."""
        return size * size

    @reg.register()
    def rectangle(width: float, height: float = 1.0) -> float:
        """Area of a rectangle.

        More text that is not the summary.
        """
        return width * height

    return reg


@pytest.fixture
def lazy_module(tmp_path, monkeypatch):
    """A fresh importable module (unique name) that records that it was imported."""
    name = f"seqadv_lazy_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            '''
            def triangle(base, height=2.0):
                """Area of a triangle."""
                return 0.5 * base * height

            class Box:
                """A box."""

                def __init__(self, side, *, closed=True):
                    self.side, self.closed = side, closed

            class Holder:
                class Inner:
                    VALUE = 42
            '''
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


# -- registration -------------------------------------------------------------------------------
def test_decorator_registers_under_name_and_default_name(shapes):
    assert shapes.names() == ["rectangle", "square"]
    assert "square" in shapes and "rectangle" in shapes and "circle" not in shapes
    assert 3 not in shapes
    assert len(shapes) == 2
    assert shapes.make("square", size=3.0) == 9.0
    assert shapes.make("rectangle", width=2.0, height=4.0) == 8.0
    assert shapes.get("square")(size=2.0) == 4.0


def test_decorator_returns_the_function_unchanged():
    reg = Registry("thing")

    def f(x=1):
        return x

    assert reg.register("f")(f) is f
    assert reg.get("f") is f


def test_registry_stores_factories_not_instances():
    reg = Registry("thing")

    @reg.register("box")
    class Box:
        def __init__(self, side: int = 1) -> None:
            self.side = side

    a, b = reg.make("box", side=2), reg.make("box", side=2)
    assert isinstance(a, Box) and a is not b and a.side == 2


def test_duplicate_name_is_an_error_unless_override(shapes):
    with pytest.raises(ConfigError, match="'square' is already registered"):
        shapes.add("square", lambda: 0)
    shapes.add("square", lambda: "new", override=True)
    assert shapes.make("square") == "new"


@pytest.mark.parametrize("bad", ["", None, 3])
def test_name_must_be_non_empty_string(bad):
    with pytest.raises(ConfigError, match="non-empty string"):
        Registry("thing").add(bad, lambda: 0)


def test_remove(shapes):
    shapes.remove("square")
    assert "square" not in shapes
    shapes.remove("square")  # removing twice is harmless
    assert shapes.names() == ["rectangle"]


def test_summary_from_meta_or_first_docstring_line(shapes):
    entries = {e.name: e for e in shapes.entries()}
    assert entries["square"].summary == "a square"
    assert entries["rectangle"].summary == "Area of a rectangle."
    assert Entry("x", lambda: 0).summary == ""


# -- lazy strings and dotted paths ----------------------------------------------------------------
def test_lazy_string_entry_imports_only_on_use(lazy_module):
    reg = Registry("shape")
    reg.add("triangle", f"{lazy_module}:triangle")
    assert "triangle" in reg and reg.names() == ["triangle"]
    assert lazy_module not in sys.modules, "registering a string must not import the module"
    assert reg.make("triangle", base=3.0) == 3.0
    assert lazy_module in sys.modules
    assert reg.entry("triangle").summary == "Area of a triangle."


def test_lazy_summary_imports(lazy_module):
    reg = Registry("shape")
    reg.add("triangle", f"{lazy_module}:triangle")
    assert [e.summary for e in reg.entries()] == ["Area of a triangle."]


def test_dotted_path_given_directly(lazy_module):
    reg = Registry("shape")
    assert reg.make(f"{lazy_module}:triangle", base=2.0, height=3.0) == 3.0
    box = reg.make(f"{lazy_module}:Box", side=4)
    assert box.side == 4 and box.closed is True
    # a dotted path is resolved ad hoc, not registered
    assert reg.names() == []


def test_import_dotted_forms(lazy_module):
    import os.path

    assert import_dotted("os.path:join") is os.path.join
    assert import_dotted("os.path.join") is os.path.join
    assert import_dotted(f"{lazy_module}:Holder.Inner").VALUE == 42


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("no_such_module_xyz:thing", "cannot import module 'no_such_module_xyz'"),
        ("os.path:no_such_function", "has no attribute 'no_such_function'"),
        ("nodots", "not a dotted path"),
        (":thing", "not a dotted path"),
        ("os:", "not a dotted path"),
    ],
)
def test_bad_dotted_paths(path, message):
    with pytest.raises(ConfigError, match=message):
        import_dotted(path)


def test_bad_dotted_path_through_registry_names_the_path():
    with pytest.raises(ConfigError, match="no_such_module_xyz"):
        Registry("shape").get("no_such_module_xyz:thing")


def test_lazy_entry_with_bad_target_fails_on_use_naming_it():
    reg = Registry("shape")
    reg.add("broken", "os.path:no_such_function")  # registering is cheap and does not check
    with pytest.raises(ConfigError, match="no_such_function"):
        reg.get("broken")


# -- unknown names -------------------------------------------------------------------------------
def test_unknown_name_lists_known_and_close_matches(shapes):
    with pytest.raises(UnknownNameError) as info:
        shapes.get("sqare")
    msg = str(info.value)
    assert "unknown shape 'sqare'" in msg
    assert "Did you mean 'square'?" in msg
    assert "Known: rectangle, square" in msg
    assert "package.module:name" in msg
    assert isinstance(info.value, KeyError)
    assert not msg.startswith('"'), "the message must not be quoted like a KeyError's"


def test_unknown_name_without_close_match(shapes):
    with pytest.raises(UnknownNameError) as info:
        shapes.make("zzzzzzzz")
    assert "Did you mean" not in str(info.value)
    assert "rectangle, square" in str(info.value)


def test_unknown_name_in_empty_registry():
    with pytest.raises(UnknownNameError, match=r"Known: \(none\)"):
        Registry("shape").get("square")


def test_non_string_name_is_a_config_error(shapes):
    with pytest.raises(ConfigError, match="must be a string"):
        shapes.get(3)  # type: ignore[arg-type]


# -- kwargs checking -----------------------------------------------------------------------------
def test_make_rejects_unknown_kwargs_listing_accepted(shapes):
    with pytest.raises(ConfigError) as info:
        shapes.make("rectangle", width=1.0, depth=2.0)
    msg = str(info.value)
    assert "shape 'rectangle'" in msg and "'depth'" in msg
    assert "accepts: width, height" in msg


def test_make_reports_missing_required_kwargs(shapes):
    with pytest.raises(ConfigError, match=r"shape 'rectangle' needs argument\(s\) 'width'"):
        shapes.make("rectangle", height=2.0)


def test_make_checks_class_signatures(lazy_module):
    reg = Registry("shape")
    reg.add("box", f"{lazy_module}:Box")
    assert reg.make("box", side=1, closed=False).closed is False
    with pytest.raises(ConfigError, match="accepts: side, closed"):
        reg.make("box", side=1, lid=True)
    with pytest.raises(ConfigError, match="'side'"):
        reg.make("box")


def test_var_keyword_factories_accept_anything():
    reg = Registry("thing")

    @reg.register("loose")
    def loose(a=1, **extra):
        return a, extra

    assert reg.make("loose", a=2, b=3) == (2, {"b": 3})


def test_check_kwargs_directly():
    def f(a, b=1, *args, c=2, **kw):
        return a

    check_kwargs(f, {"a": 1, "c": 3, "zzz": 1}, "f")  # **kw swallows zzz

    def g(a, /, b=1, *, c=2):
        return a

    with pytest.raises(ConfigError, match="accepts: b, c"):
        check_kwargs(g, {"a": 1}, "g")  # positional-only cannot be given by name
    check_kwargs(len, {}, "len")  # builtins without a signature are not checked


# -- resolver and entry points ---------------------------------------------------------------------
def test_resolver_supplies_a_family_of_names():
    def resolver(name: str) -> Entry | None:
        if name.startswith("const:"):
            value = int(name.split(":")[1])
            return Entry(name, lambda: value)
        return None

    reg = Registry("thing", resolver=resolver)
    assert reg.make("const:7") == 7
    with pytest.raises(UnknownNameError):
        reg.get("other")


def test_entry_points_are_added_lazily(monkeypatch, lazy_module):
    group = "seqadv.test_registry_group"
    calls = []

    def fake_entry_points(group: str):
        calls.append(group)
        return [
            importlib.metadata.EntryPoint("triangle", f"{lazy_module}:triangle", group),
            importlib.metadata.EntryPoint("square", "os.path:join", group),
        ]

    monkeypatch.setattr(importlib.metadata, "entry_points", fake_entry_points)
    reg = Registry("shape", entry_point_group=group)

    @reg.register("square")
    def square(size=1.0):
        return size * size

    assert reg.make("square", size=2.0) == 4.0  # a registered name wins; no lookup needed
    assert calls == []
    assert reg.names() == ["square", "triangle"]
    assert calls == [group]
    assert lazy_module not in sys.modules, "listing must not import the plug-in"
    assert reg.make("triangle", base=1.0) == 1.0
    assert reg.entry("triangle").meta["source"] == group
    assert reg.make("square", size=3.0) == 9.0
    reg.names()
    assert calls == [group], "entry points are read once"
