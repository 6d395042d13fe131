"""The Junior's edits, from reply to files: `parse` reads SEARCH/REPLACE blocks, deletions, whole files and
`path::Symbol` edits out of a reply; `match` finds a block's SEARCH text in a file (a ladder of tolerances,
refusing ambiguity); `symbols` replaces a whole definition with tree-sitter; `apply` confines paths and writes
every file of a reply atomically or none; `feedback` words what went wrong for the model, from
prompts/junior_edit_feedback.md.j2.
"""
