"""Resumable, verified downloads of public datasets into the cache directory.

A download goes to NAME.part (continued with an HTTP Range request if it is already there), is checked against
its published MD5, and only then renamed to NAME: a file under its final name is always complete.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

CHUNK = 1 << 20


class DownloadError(RuntimeError):
    pass


@dataclass(frozen=True)
class Remote:
    url: str
    filename: str
    md5: str | None  # None where the publisher gives no checksum; the file is then taken as is


def md5sum(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(remote: Remote, folder: str | Path, timeout: float = 60) -> Path:
    """FOLDER/filename, downloaded (or resumed) from remote.url unless already complete and verified."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target, part = folder / remote.filename, folder / (remote.filename + ".part")
    if target.exists():
        return target
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(remote.url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            resumed = have and response.status == 206
            total = response.length + (have if resumed else 0) if response.length is not None else None
            with open(part, "ab" if resumed else "wb") as out, \
                    tqdm(total=total, initial=have if resumed else 0, unit="B", unit_scale=True,
                         desc=remote.filename, disable=None) as progress:
                for block in iter(lambda: response.read(CHUNK), b""):
                    out.write(block)
                    progress.update(len(block))
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # the range starts at the end: the part file is already whole
            pass
        else:
            raise DownloadError(f"{remote.url}: HTTP {e.code} {e.reason} (partial data kept in {part})") from None
    except (urllib.error.URLError, OSError) as e:
        raise DownloadError(f"{remote.url}: {getattr(e, 'reason', e)} (partial data kept in {part}; run again to "
                            f"resume, or download it yourself into {target})") from None
    if remote.md5 is not None and (actual := md5sum(part)) != remote.md5:
        bad = part.with_suffix(part.suffix + ".bad")
        shutil.move(part, bad)
        raise DownloadError(f"{remote.url}: MD5 {actual} is not the published {remote.md5} (moved to {bad})")
    os.replace(part, target)
    return target


def manual_steps(name: str, where: str, files: list[str], folder: Path, note: str = "") -> str:
    """The message for a dataset that needs a login or terms acceptance before it can be downloaded."""
    listing = "\n".join(f"  {folder / f}" for f in files)
    return (f"{name} cannot be downloaded automatically{': ' + note if note else ''}.\n"
            f"Get it from {where}, then place it so that these exist:\n{listing}")
