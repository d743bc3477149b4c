"""The project-managed local PostgreSQL + PostGIS cluster used when no DATABASE_URL is given.

PostgreSQL refuses to run as root, so when we are root every server command runs as the
``postgres`` system user through ``runuser``; the data directory is owned by it with mode 0700.
The server listens on a unix socket in a project directory and on 127.0.0.1 at a free port.
"""

from __future__ import annotations

import dataclasses
import os
import pwd
import re
import secrets
import shutil
import socket
import stat
import subprocess
import time
from pathlib import Path

SERVER_USER = "postgres"
SUPERUSER = "postgres"
PG_ROOT = Path("/usr/lib/postgresql")
PG_SHARE = Path("/usr/share/postgresql")
INSTALL_HINT = (
    "install them with `apt-get install postgresql-15 postgresql-15-postgis-3` "
    "(scripts/setup-and-run does this)"
)
_CONF_BEGIN = "# --- sightline managed settings (do not edit by hand) ---"
_CONF_END = "# --- end sightline ---"
_MAX_SOCKET_PATH = 100  # sun_path is 108 bytes including ".s.PGSQL.<port>" and NUL


class ClusterError(RuntimeError):
    """The local cluster cannot be created, started or reached; the message says what to do."""


@dataclasses.dataclass(frozen=True)
class ClusterStatus:
    """What `sightline db status` reports."""

    data_dir: Path
    initialised: bool
    running: bool
    pid: int | None
    port: int | None
    socket_dir: Path
    url: str | None


def find_pg_bin() -> Path:
    """Directory of the newest installed PostgreSQL server binaries having PostGIS.

    Raises
    ------
    ClusterError
        When no PostgreSQL server or no PostGIS extension is installed.
    """
    versions = sorted(
        (p for p in PG_ROOT.glob("*/bin/initdb") if p.parent.parent.name.isdigit()),
        key=lambda p: int(p.parent.parent.name),
        reverse=True,
    )
    if not versions:
        raise ClusterError(f"PostgreSQL server binaries not found under {PG_ROOT}; {INSTALL_HINT}")
    for initdb in versions:
        major = initdb.parent.parent.name
        if (PG_SHARE / major / "extension" / "postgis.control").exists():
            return initdb.parent
    majors = ", ".join(p.parent.parent.name for p in versions)
    raise ClusterError(
        f"PostgreSQL {majors} is installed but the PostGIS extension is not; "
        f"install it with `apt-get install postgresql-{versions[0].parent.parent.name}-postgis-3`"
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when something already listens on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


class LocalCluster:
    """A PostgreSQL cluster in ``data_dir`` managed by Sightline.

    Parameters
    ----------
    data_dir
        Cluster data directory (created by :meth:`init`).
    port
        TCP port on 127.0.0.1; ``None`` keeps the port chosen at init (a free one).
    database
        Name of the application database created by :meth:`ensure_database`.
    """

    def __init__(self, data_dir: Path, port: int | None = None, database: str = "sightline"):
        self.data_dir = Path(data_dir).absolute()
        self.socket_dir = self.data_dir.with_name(self.data_dir.name + "-run")
        self.log_file = self.socket_dir / "server.log"
        self.password_file = self.data_dir.with_name(self.data_dir.name + "-password")
        self.database = database
        self._requested_port = port

    # -- process helpers -------------------------------------------------------------
    def _as_server_user(
        self, argv: list[str], timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        if os.geteuid() == 0:
            argv = ["runuser", "-u", SERVER_USER, "--", *argv]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)

    def _server_uid(self) -> tuple[int, int]:
        if os.geteuid() != 0:
            return os.geteuid(), os.getegid()
        try:
            entry = pwd.getpwnam(SERVER_USER)
        except KeyError as exc:
            raise ClusterError(
                f"system user '{SERVER_USER}' does not exist; {INSTALL_HINT}"
            ) from exc
        return entry.pw_uid, entry.pw_gid

    # -- state -------------------------------------------------------------------------
    @property
    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    @property
    def port(self) -> int | None:
        """The port written into the cluster configuration, or None before init."""
        conf = self.data_dir / "postgresql.conf"
        if not conf.exists():
            return None
        match = re.search(r"^port = (\d+)\s*$", conf.read_text(), flags=re.MULTILINE)
        return int(match.group(1)) if match else None

    def url(self, database: str | None = None) -> str:
        """SQLAlchemy URL reaching the cluster over its unix socket as the superuser."""
        port = self.port
        if port is None:
            raise ClusterError(
                f"cluster in {self.data_dir} is not initialised; run `sightline db start`"
            )
        return (
            f"postgresql+psycopg://{SUPERUSER}@/{database or self.database}"
            f"?host={self.socket_dir}&port={port}"
        )

    def _pid(self) -> int | None:
        pidfile = self.data_dir / "postmaster.pid"
        try:
            first = pidfile.read_text().splitlines()[0]
        except (FileNotFoundError, IndexError):
            return None
        pid = int(first)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    @property
    def running(self) -> bool:
        return self.initialised and self._pid() is not None

    def status(self) -> ClusterStatus:
        """Whether the cluster exists and runs, its pid, port and URL."""
        initialised = self.initialised
        pid = self._pid() if initialised else None
        return ClusterStatus(
            data_dir=self.data_dir,
            initialised=initialised,
            running=pid is not None,
            pid=pid,
            port=self.port,
            socket_dir=self.socket_dir,
            url=self.url() if initialised else None,
        )

    # -- checks ------------------------------------------------------------------------
    def _check_data_dir(self) -> None:
        uid, _ = self._server_uid()
        if len(str(self.socket_dir)) > _MAX_SOCKET_PATH:
            raise ClusterError(
                f"socket directory path {self.socket_dir} is too long for a unix socket "
                f"(max {_MAX_SOCKET_PATH} characters); set SIGHTLINE_PG_DIR to a shorter path"
            )
        if not self.data_dir.exists():
            return
        st = self.data_dir.stat()
        if not stat.S_ISDIR(st.st_mode):
            raise ClusterError(f"{self.data_dir} exists and is not a directory")
        if any(self.data_dir.iterdir()) and not self.initialised:
            raise ClusterError(
                f"{self.data_dir} is not empty and is not a PostgreSQL data directory; "
                "empty it or set SIGHTLINE_PG_DIR to another path"
            )
        if st.st_uid != uid:
            owner = _user_name(st.st_uid)
            raise ClusterError(
                f"data directory {self.data_dir} is owned by '{owner}', not '{_user_name(uid)}' "
                f"who runs the server; fix with `chown -R {_user_name(uid)} {self.data_dir}` "
                "or set SIGHTLINE_PG_DIR to another path"
            )

    def _check_reachable(self, path: Path) -> None:
        """The server user must be able to traverse every parent of the data directory."""
        if os.geteuid() != 0:
            return
        result = self._as_server_user(["test", "-x", str(path), "-a", "-r", str(path)])
        if result.returncode == 0:
            return
        blocker = path
        for parent in [path, *path.parents]:
            if self._as_server_user(["test", "-x", str(parent)]).returncode != 0:
                blocker = parent
        raise ClusterError(
            f"the '{SERVER_USER}' user cannot reach {path}: {blocker} is not searchable by it "
            f"(mode {stat.filemode(blocker.stat().st_mode)}); allow it with "
            f"`chmod o+x {blocker}` or set SIGHTLINE_PG_DIR to a directory it can reach"
        )

    # -- lifecycle ---------------------------------------------------------------------
    def init(self) -> bool:
        """Create the cluster if it does not exist. Returns True when it was created."""
        bindir = find_pg_bin()
        self._check_data_dir()
        if self.initialised:
            self._write_conf()
            return False
        uid, gid = self._server_uid()
        for d in (self.data_dir, self.socket_dir):
            d.mkdir(parents=True, exist_ok=True)
            os.chown(d, uid, gid)
        self.data_dir.chmod(0o700)
        self.socket_dir.chmod(0o700)
        self._check_reachable(self.data_dir)
        password = secrets.token_urlsafe(24)
        pwfile = self.socket_dir / ".initpw"
        pwfile.write_text(password + "\n")
        os.chown(pwfile, uid, gid)
        pwfile.chmod(0o600)
        try:
            result = self._as_server_user(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    SUPERUSER,
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    # local socket: the socket dir is 0700, so only root and the server user
                    # get there; TCP needs the generated password.
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    f"--pwfile={pwfile}",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise ClusterError(f"initdb failed in {self.data_dir}: {_tail(result.stderr)}")
        self.password_file.write_text(password + "\n")
        self.password_file.chmod(0o600)
        self._write_conf()
        return True

    def _write_conf(self) -> None:
        conf = self.data_dir / "postgresql.conf"
        text = conf.read_text()
        port = self._requested_port or self.port or free_port()
        text = re.sub(
            re.escape(_CONF_BEGIN) + r".*?" + re.escape(_CONF_END) + r"\n?", "", text, flags=re.S
        )
        block = "\n".join(
            [
                _CONF_BEGIN,
                f"port = {port}",
                "listen_addresses = '127.0.0.1'",
                f"unix_socket_directories = '{self.socket_dir}'",
                "fsync = on",
                "shared_buffers = 256MB",
                "max_connections = 100",
                _CONF_END,
                "",
            ]
        )
        new = text.rstrip("\n") + "\n" + block
        if new != conf.read_text():
            conf.write_text(new)

    def start(self, timeout_s: float = 60) -> bool:
        """Init if needed and start the server. Returns True when it was started now."""
        self.init()
        if self.running:
            return False
        port = self.port
        assert port is not None
        if port_in_use(port):
            raise ClusterError(
                f"port {port} on 127.0.0.1 is already in use by another program; stop it or set "
                "SIGHTLINE_PG_PORT to a free port"
            )
        uid, gid = self._server_uid()
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        os.chown(self.socket_dir, uid, gid)
        self.socket_dir.chmod(0o700)
        bindir = find_pg_bin()
        result = self._as_server_user(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                str(int(timeout_s)),
                "start",
            ],
            timeout=timeout_s + 10,
        )
        if result.returncode != 0:
            log = self.log_file.read_text() if self.log_file.exists() else ""
            raise ClusterError(
                f"PostgreSQL did not start from {self.data_dir}: "
                f"{_tail(result.stderr or result.stdout)} {_tail(log)}"
            )
        return True

    def stop(self, timeout_s: float = 60) -> bool:
        """Stop the server (fast shutdown). Returns True when it was running."""
        if not self.running:
            return False
        bindir = find_pg_bin()
        result = self._as_server_user(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-m",
                "fast",
                "-w",
                "-t",
                str(int(timeout_s)),
                "stop",
            ],
            timeout=timeout_s + 10,
        )
        if result.returncode != 0:
            raise ClusterError(
                f"could not stop PostgreSQL in {self.data_dir}: {_tail(result.stderr)}"
            )
        deadline = time.monotonic() + timeout_s
        while self._pid() is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        return True

    def destroy(self) -> None:
        """Stop the server and delete the data and socket directories (throw-away clusters)."""
        self.stop()
        for d in (self.data_dir, self.socket_dir):
            shutil.rmtree(d, ignore_errors=True)
        self.password_file.unlink(missing_ok=True)


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _tail(text: str, lines: int = 5) -> str:
    return " | ".join(text.strip().splitlines()[-lines:])
