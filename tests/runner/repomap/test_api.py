"""The public API the engine and `ai-fix map` use: kept small and pinned."""

import runner.repomap as repomap


def test_public_names() -> None:
    assert sorted(repomap.__all__) == ["Kind", "RankedFile", "Ranking", "RepoMap", "TagCache", "approx_tokens"]


def test_tree_sitter_grammars_are_bundled() -> None:
    # tree-sitter-language-pack 1.x downloads grammars at run time; we need the bundled 0.x wheels.
    from importlib.metadata import version

    from tree_sitter_language_pack import get_parser

    assert int(version("tree-sitter-language-pack").split(".")[0]) == 0
    for language in ("python", "javascript", "typescript", "tsx", "go", "rust", "java", "c", "cpp", "ruby"):
        assert get_parser(language).parse(b"x").root_node is not None
