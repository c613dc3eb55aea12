"""A throwaway PostgreSQL cluster for tests and benchmarks: Debian's postgresql binaries, a
temporary directory, a free loopback port, password (SCRAM) authentication; no system service.
Run as the postgres user when we are root (initdb refuses root)."""
import os
import shutil
import socket
import subprocess

PG_BIN = "/usr/lib/postgresql/15/bin"


def free_port():
    return free_ports(1)[0]


def free_ports(count):
    """`count` distinct free ports: each probe stays bound until all are picked (one at a
    time, the kernel may hand the same port out twice, and two servers then race for it)."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


class PostgreSQL:
    """A cluster of its own in a temporary directory, run as the postgres user when we are root."""

    def __init__(self, directory):
        self.directory = directory
        os.makedirs(directory, mode=0o700)
        self.data = os.path.join(directory, "data")
        self.port = free_port()
        self.password = "replicas-" + os.urandom(8).hex()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        password_file = os.path.join(directory, "initdb-password")
        with open(password_file, "w") as f:
            f.write(self.password + "\n")
        if self.as_user:
            shutil.chown(directory, "postgres")
            shutil.chown(password_file, "postgres")
        subprocess.run(self.as_user + [PG_BIN + "/initdb", "-D", self.data, "-U", "offload", "-A", "scram-sha-256",
                                       "--pwfile", password_file], check=True, stdout=subprocess.DEVNULL)
        os.unlink(password_file)
        self.start()
        env = dict(os.environ, PGPASSWORD=self.password)
        subprocess.run([PG_BIN + "/createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "offload", "offload"],
                       check=True, env=env)

    def start(self):
        subprocess.run(self.as_user + [PG_BIN + "/pg_ctl", "-D", self.data, "-l", os.path.join(self.directory, "log"),
                                       "-w", "-o", f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1",
                                       "start"], check=True, stdout=subprocess.DEVNULL)

    def stop(self):
        subprocess.run(self.as_user + [PG_BIN + "/pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    @property
    def url(self):
        return f"postgres://offload@127.0.0.1:{self.port}/offload"

    def write_password_file(self, path):
        """The password in a file only its owner reads (what --store-password-file wants)."""
        with open(path, "w") as f:
            f.write(self.password + "\n")
        os.chmod(path, 0o600)
        return path
