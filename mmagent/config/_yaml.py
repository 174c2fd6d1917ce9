"""YAML read with bounds: nesting depth and alias expansion are limited before anything is
built, so a small file cannot take the machine ("billion laughs") or overflow the stack.

>>> compose("a: &x [1, 2]\\nb: *x\\n").value[1][1].value[0].value
'1'
>>> compose("a: &x [1]\\nb: [*x, *x, *x]\\n", max_nodes=5)
Traceback (most recent call last):
...
mmagent.config._yaml.YAMLBoundError: got a document of more than 5 nodes (aliases expanded); \
expected at most 5
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["compose", "safe_load", "decode", "YAMLBoundError", "MAX_DEPTH", "MAX_NODES"]

MAX_DEPTH = 100
"""Deepest nesting of mappings and sequences accepted."""
MAX_NODES = 100_000
"""Most nodes a document may have once its aliases are expanded."""


class YAMLBoundError(yaml.YAMLError):
    """The document is deeper or, with its aliases expanded, larger than the bounds."""

    def __init__(self, problem: str, mark: Any = None) -> None:  # libyaml's or PyYAML's Mark
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark

    def __str__(self) -> str:
        return self.problem


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's composer recurses once per nesting level: it stops at ``max_depth``."""

    max_depth = MAX_DEPTH

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                mark = self.peek_event().start_mark
                raise YAMLBoundError(f"got nesting deeper than {self.max_depth} levels; expected "
                                     f"at most {self.max_depth}", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def decode(data: bytes, source: str) -> str:
    """UTF-8 text of a YAML file, or a :class:`YAMLBoundError` naming the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n")
        raise YAMLBoundError(f"got a byte that is not UTF-8 (0x{data[e.start]:02x}) in "
                             f"{source}; expected UTF-8 text",
                             yaml.Mark(source, e.start, line, 0, None, 0)) from None


def _prescan(text: str, max_depth: int, max_nodes: int) -> bool:
    """Bound depth and node count on libyaml's events (C: a megabyte in well under a second),
    before any Python object is built. False when libyaml is missing or the text does not
    parse (the pure-Python composer then gives its usual, precise error)."""
    if not getattr(yaml, "__with_libyaml__", False):
        return False
    depth = nodes = 0
    try:
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            if isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent, yaml.MappingStartEvent,
                                  yaml.SequenceStartEvent)):
                nodes += 1
                if nodes > max_nodes:
                    raise YAMLBoundError(f"got a document of more than {max_nodes} nodes "
                                         f"(aliases expanded); expected at most {max_nodes}",
                                         event.start_mark)
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > max_depth:
                    raise YAMLBoundError(f"got nesting deeper than {max_depth} levels; "
                                         f"expected at most {max_depth}", event.start_mark)
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except YAMLBoundError:
        raise
    except yaml.YAMLError:
        return False
    return True


def compose(text: str, *, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> Any:
    """The node graph of ``text`` (None for an empty document), refused with
    :class:`YAMLBoundError` when it nests deeper than ``max_depth`` or its aliases expand to
    more than ``max_nodes`` nodes."""
    if _prescan(text, max_depth, max_nodes):  # bounded: libyaml composes it, fast
        loader: Any = yaml.CSafeLoader(text)
    else:
        loader = _BoundedLoader(text)
        loader.max_depth = max_depth
    try:
        root = loader.get_single_node()
    finally:
        loader.dispose()
    if root is not None:
        _check_size(root, max_nodes)
    return root


def safe_load(text: str, **bounds: int) -> Any:
    """Like :func:`yaml.safe_load`, within the bounds of :func:`compose`."""
    root = compose(text, **bounds)
    if root is None:
        return None
    return yaml.SafeLoader("").construct_document(root)


def _check_size(root: yaml.Node, max_nodes: int) -> None:
    """Count the expanded size of every node once (aliases share nodes, so the count is
    linear in the document, not in its expansion)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:  # post-order without recursion: children are sized before their parent
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if not children_done:
            stack.append((node, True))
            stack.extend((c, False) for c in _children(node) if id(c) not in sizes)
            continue
        size = 1 + sum(sizes[id(c)] for c in _children(node))
        if size > max_nodes:
            raise YAMLBoundError(f"got a document of more than {max_nodes} nodes (aliases "
                                 f"expanded); expected at most {max_nodes}",
                                 node.start_mark)
        sizes[id(node)] = size


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []
