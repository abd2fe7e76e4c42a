"""The policy files' YAML nodes by location, for the locations the loaded rules do not keep (the
``because`` text, a ``source`` key, a table row) and an overlay's ``extends`` when it does not load.
The nodes are those the one parse composed (``ParsedPolicies.docs``): no file is read twice."""
from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from ..errors import Location
from ..syntax import Parameter
from ..yamlsource import Node, each_node


@dataclass
class IndexedFile:
    name: str                                   # as locations show it
    text: str
    root: yaml.Node | None
    entries: dict[tuple[int, int], yaml.MappingNode] = field(default_factory=dict)   # `id` value -> its mapping
    params: dict[tuple[int, int], yaml.Node] = field(default_factory=dict)           # name key -> spec
    mappings: dict[tuple[int, int], yaml.MappingNode] = field(default_factory=dict)  # every mapping by its start

    def loc(self, node: yaml.Node) -> Location:
        return Location(self.name, node.start_mark.line + 1, node.start_mark.column + 1)

    def at_index(self, index: int) -> Location:
        line = self.text.count("\n", 0, index) + 1
        return Location(self.name, line, index - (self.text.rfind("\n", 0, index) + 1) + 1)


def get(node: yaml.Node | None, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    """A mapping's key and value nodes for ``key``."""
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return k, v
    return None


def index_doc(doc: Node) -> IndexedFile:
    """A file's nodes by location, from the YAML the single parse composed (``ParsedPolicies.docs``)."""
    root, name, text = doc.raw, doc.file, doc.text
    f = IndexedFile(name, text, root)
    for node in each_node(root):
        if isinstance(node, yaml.MappingNode):
            f.mappings[(node.start_mark.line + 1, node.start_mark.column + 1)] = node
            found = get(node, "id")
            if found and isinstance(found[1], yaml.ScalarNode):
                mark = found[1].start_mark
                f.entries[(mark.line + 1, mark.column + 1)] = node
            params = get(node, "parameters")
            if params and isinstance(params[1], yaml.MappingNode):
                for k, v in params[1].value:
                    f.params[(k.start_mark.line + 1, k.start_mark.column + 1)] = v
    return f


class Index:
    def __init__(self, files: dict[str, IndexedFile], overlays: dict[str, IndexedFile]):
        self.files = files          # by the name locations show
        self.overlays = overlays    # by payer id (file stem)

    def entry(self, loc: Location | None) -> tuple[IndexedFile, yaml.MappingNode] | tuple[None, None]:
        """The mapping whose `id` value starts at ``loc`` (a rule's or a disable entry's)."""
        f = self.files.get(loc.file) if loc else None
        node = f.entries.get((loc.line, loc.column)) if f else None
        return (f, node) if node is not None else (None, None)

    def mapping(self, loc: Location) -> tuple[IndexedFile, yaml.MappingNode] | tuple[None, None]:
        f = self.files.get(loc.file)
        node = f.mappings.get((loc.line, loc.column)) if f else None
        return (f, node) if node is not None else (None, None)

    def param(self, p: Parameter) -> tuple[IndexedFile, yaml.Node] | tuple[None, None]:
        f = self.files.get(p.location.file)
        node = f.params.get((p.location.line, p.location.column)) if f else None
        return (f, node) if node is not None else (None, None)

    def extends(self, payer: str) -> str | None:
        found = get(self.overlays[payer].root, "extends") if payer in self.overlays else None
        return found[1].value if found and isinstance(found[1], yaml.ScalarNode) else None
