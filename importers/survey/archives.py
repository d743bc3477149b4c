"""Safe reading of .zip/.kmz archives: no path traversal, no zip bombs, few members.

Only the members a reader needs are extracted, to a temporary folder the caller removes.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from importers.survey.source import SurveyReadError

__all__ = [
    "MAX_MEMBERS",
    "MAX_RATIO",
    "MAX_TOTAL_BYTES",
    "RATIO_FLOOR_BYTES",
    "ArchiveMember",
    "extract",
    "remove_tree",
    "safe_members",
]

#: Refuse archives with more members than this.
MAX_MEMBERS = 1000
#: Refuse archives whose members expand to more than this in total (bytes).
MAX_TOTAL_BYTES = 2 * 1024**3
#: Refuse members that expand more than this many times ...
MAX_RATIO = 200
#: ... once they are larger than this (small text files legitimately compress very well).
RATIO_FLOOR_BYTES = 1 << 20
_COPY_BYTES = 1 << 20
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class ArchiveMember:
    """A regular file in an archive: its decoded path (``/``-separated) and zip entry."""

    name: str
    info: zipfile.ZipInfo

    @property
    def path(self) -> PurePosixPath:
        return PurePosixPath(self.name)


def _decoded_name(info: zipfile.ZipInfo) -> str:
    """The member name, repairing names that Windows zippers wrote in GBK without saying so."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return info.filename


def _unsafe(name: str) -> bool:
    parts = name.split("/")
    return name.startswith("/") or bool(_DRIVE.match(name)) or ".." in parts or "\x00" in name


def safe_members(
    path: Path,
    *,
    max_members: int = MAX_MEMBERS,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    max_ratio: float = MAX_RATIO,
) -> list[ArchiveMember]:
    """The regular files of a zip archive, after refusing dangerous archives.

    Parameters
    ----------
    path : Path
        The .zip or .kmz file.
    max_members : int
        Most entries (files and folders) accepted.
    max_total_bytes : int
        Most bytes the files may expand to in total, as the archive declares them (extraction
        enforces the declared sizes).
    max_ratio : float
        Highest expansion ratio accepted for a member larger than :data:`RATIO_FLOOR_BYTES`.

    Returns
    -------
    list of ArchiveMember
        In archive order, without folders.

    Raises
    ------
    SurveyReadError
        Not a zip archive; too many members; a member path that is absolute or climbs out
        with ``..``; total size or a member's compression ratio over the limits.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise SurveyReadError(f"{path}: not a readable zip archive ({exc})") from exc
    if len(infos) > max_members:
        raise SurveyReadError(
            f"{path}: refusing an archive with {len(infos)} members (the limit is "
            f"{max_members}); zip only the survey file(s)"
        )
    members: list[ArchiveMember] = []
    unsafe: list[str] = []
    total = 0
    for info in infos:
        name = _decoded_name(info).replace("\\", "/")
        if _unsafe(name):
            unsafe.append(name)
            continue
        if info.is_dir():
            continue
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_FLOOR_BYTES and ratio > max_ratio:
            raise SurveyReadError(
                f"{path}: refusing member {name!r}: it expands {ratio:.0f} times "
                f"({info.file_size} bytes from {info.compress_size}; the limit is "
                f"{max_ratio:g}) — this looks like a zip bomb"
            )
        members.append(ArchiveMember(name, info))
    if unsafe:
        raise SurveyReadError(
            f"{path}: refusing an archive whose member paths leave the extraction folder "
            "(absolute or '..'): " + ", ".join(repr(n) for n in unsafe[:5])
        )
    if total > max_total_bytes:
        raise SurveyReadError(
            f"{path}: refusing an archive that expands to {total} bytes (the limit is "
            f"{max_total_bytes}) — this looks like a zip bomb"
        )
    return members


def extract(
    path: Path,
    members: list[ArchiveMember],
    dest: Path,
    *,
    rename: dict[str, str] | None = None,
) -> dict[str, Path]:
    """Extract ``members`` (from :func:`safe_members`) flat into ``dest``.

    Each member is written as its base name (or ``rename[member.name]``), so nothing can land
    outside ``dest``. Sizes are enforced while copying.

    Returns
    -------
    dict
        Member name -> extracted file.

    Raises
    ------
    SurveyReadError
        Encrypted member, corrupt data (CRC), clashing names, a member larger than declared.
    """
    out: dict[str, Path] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for member in members:
                if member.info.flag_bits & 0x1:
                    raise SurveyReadError(
                        f"{path}: member {member.name!r} is password-protected; "
                        "send the archive without a password"
                    )
                base = (rename or {}).get(member.name, member.path.name)
                target = dest / base
                if target.parent != dest or target.exists():
                    raise SurveyReadError(f"{path}: cannot extract {member.name!r} as {base!r}")
                limit = member.info.file_size
                written = 0
                with zf.open(member.info) as src, open(target, "xb") as dst:
                    while chunk := src.read(_COPY_BYTES):
                        written += len(chunk)
                        if written > limit:
                            raise SurveyReadError(
                                f"{path}: member {member.name!r} is larger than the archive "
                                "declares; refusing it"
                            )
                        dst.write(chunk)
                out[member.name] = target
    except (zipfile.BadZipFile, OSError) as exc:
        raise SurveyReadError(f"{path}: cannot extract from the archive ({exc})") from exc
    return out


def remove_tree(folder: Path) -> None:
    """Remove an extraction folder (used as a cleanup callback)."""
    shutil.rmtree(folder, ignore_errors=True)
