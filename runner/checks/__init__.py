"""The checks that judge an attempt, each compared with the untouched tree so only what the change did counts.

`sandboxes` opens each attempt's sandbox (the setup image once, the baseline once); `lint` finds new
syntax and fatal errors and new lines from the repository's linter; `test_results` reads a test command's
result (`junit` from its JUnit report, else `console` from the runner's closing summary, into a
`test_run.TestRun`) and compares it with the baseline.
"""
