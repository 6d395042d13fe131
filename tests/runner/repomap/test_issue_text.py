"""Mentions from issue text: frames, paths, modules, identifiers, errors; noise removed."""

from __future__ import annotations

from runner.repomap.issue_text import CODE, FRAME, PROSE, clean, extract

ISSUE = '''`Dataset.to_netcdf` fails with engine="h5netcdf"

```python
import xarray as xr
ds = xr.open_dataset("in.nc")
ds.to_netcdf("out.nc")
```

Traceback (most recent call last):
  File "/opt/lib/python3.10/site-packages/xarray/backends/api.py", line 1200, in to_netcdf
    store = store_open(target, mode, **kwargs)
ValueError: unrecognized engine for to_netcdf: 'h5netcdf'

See xarray/backends/h5netcdf_.py and the writeBuffer helper.

<!-- Please fill in the template -->
INSTALLED VERSIONS
------------------
python: 3.10.4
numpy: 1.22.3
pandas: 1.4.2
xarray: 2022.3.0
netCDF4: None
'''


def test_frames_paths_identifiers_and_errors() -> None:
    m = extract(ISSUE)
    assert m.frames == [("/opt/lib/python3.10/site-packages/xarray/backends/api.py", "to_netcdf")]
    assert m.paths["/opt/lib/python3.10/site-packages/xarray/backends/api.py"] == FRAME
    assert "xarray/backends/h5netcdf_.py" in m.paths
    assert m.idents["to_netcdf"] == FRAME
    assert m.idents["writeBuffer"] == PROSE
    assert m.idents["open_dataset"] >= CODE
    assert ("Dataset", "to_netcdf") in m.qualified
    assert "xarray.open_dataset" in m.modules  # the alias `xr` resolved
    assert m.errors == ["unrecognized engine for to_netcdf: 'h5netcdf'"]


def test_template_comments_and_environment_dumps_are_dropped() -> None:
    cleaned = clean(ISSUE)
    assert "Please fill" not in cleaned
    assert "numpy: 1.22.3" not in cleaned and "netCDF4: None" not in cleaned
    m = extract(ISSUE)
    assert "pandas" not in m.words
    assert "unrecognized engine" in m.normalised


def test_the_title_is_kept_apart_from_the_body() -> None:
    m = extract("Timeout ignored by `fetch_all`\n\nthe retry loop, the retry loop")
    assert m.title == {"timeout": 1, "ignored": 1, "by": 1, "fetch_all": 1, "fetch": 1, "all": 1}
    assert m.words["retry"] == 2 and m.words["timeout"] == 1
