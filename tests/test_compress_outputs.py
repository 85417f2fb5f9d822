"""Where `gantutor compress` and `decompress` write: standard input and output for -,
one clear line for an output that cannot be written, nothing half-written, no good
file replaced by a partial one, sensible permissions, symbolic links written
through."""

import errno
import io
import os
import resource
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from gantutor.cli import main
from gantutor.compression import codec, files

DATA = b"a small file, compressed and decompressed by the command line\n" * 3
ROOT = os.geteuid() == 0


def run_cli(*argv, stdin=b"", limit_file_size=None):
    """The real command in a subprocess: (exit status, stdout bytes, stderr text)."""
    def preexec():
        if limit_file_size is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_size,) * 2)

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1]),
           "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "gantutor", *argv], input=stdin,
                       capture_output=True, env=env, preexec_fn=preexec, timeout=120)
    return r.returncode, r.stdout, r.stderr.decode()


def one_line_error(capsys, contains: str) -> str:
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "error:" in err and contains in err, err
    return err


@pytest.fixture
def src(tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes(DATA)
    return path


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ---------------------------------------------------- standard input and output


def test_dash_is_standard_input_and_output_for_both_commands(tmp_path):
    rc, blob, err = run_cli("compress", "-", "-o", "-", stdin=DATA)
    assert rc == 0 and blob[:4] == b"\x89GTZ" and "bits/byte" in err
    rc, back, err = run_cli("decompress", "-", "-o", "-", stdin=blob)
    assert rc == 0 and back == DATA and "SHA-256 verified" in err
    assert not Path("-").exists() and names(tmp_path) == []


def test_dash_mixed_with_files(tmp_path, src):
    rc, _, _ = run_cli("compress", "-", "-o", str(tmp_path / "c.gtz"), stdin=DATA)
    assert rc == 0
    rc, back, _ = run_cli("decompress", str(tmp_path / "c.gtz"), "-o", "-")
    assert rc == 0 and back == DATA


def test_no_compressed_data_to_or_from_a_terminal(monkeypatch, capsys, src):
    class Terminal(io.BytesIO):
        buffer = property(lambda self: self)

        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stdout", Terminal())
    assert main(["compress", str(src), "-o", "-"]) == 2
    one_line_error(capsys, "not written to a terminal")
    monkeypatch.setattr(sys, "stdin", Terminal())
    assert main(["decompress", "-", "-o", str(src) + ".out"]) == 2
    one_line_error(capsys, "cannot be typed")
    assert not Path(str(src) + ".out").exists()


def test_closed_standard_streams_are_one_line(monkeypatch, capsys, src, tmp_path):
    monkeypatch.setattr(sys, "stdin", None)  # what Python sets for `<&-`
    assert main(["compress", "-", "-o", str(tmp_path / "c.gtz")]) == 2
    one_line_error(capsys, "standard input is closed")
    monkeypatch.setattr(sys, "stdout", None)  # `>&-`
    assert main(["compress", str(src), "-o", "-"]) == 2
    one_line_error(capsys, "standard output is closed")
    assert names(tmp_path) == ["in.txt"]


def test_a_closed_standard_output_is_one_line(monkeypatch, capsys, src):
    class ClosedPipe(io.BytesIO):
        buffer = property(lambda self: self)

        def isatty(self):
            return False

        def write(self, data):
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")

        def fileno(self):
            raise io.UnsupportedOperation

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["compress", str(src), "-o", "-"]) == 2
    one_line_error(capsys, "Broken pipe")


# ------------------------------------------- outputs that cannot be written


@pytest.mark.parametrize("command", ["compress", "decompress"])
def test_outputs_that_cannot_be_written_get_one_line(tmp_path, capsys, command):
    src = tmp_path / "in"
    src.write_bytes(DATA if command == "compress" else codec.compress(DATA))
    folder = tmp_path / "folder"
    folder.mkdir()
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    cases = {
        (str(folder),): "is a folder",
        (str(folder), "--force"): "is a folder",
        (str(tmp_path / "missing" / "out"),): "does not exist",
        (str(src / "out"),): "is a file, not a folder",
        (str(tmp_path / "new") + "/",): "names a folder",
        ("/dev/null", "--force"): "not a regular file",
        (str(dangling),): "which does not exist",
        (str(tmp_path / ("x" * 300)),): "File name too long",
    }
    before = names(tmp_path)
    for (out, *extra), message in cases.items():
        assert main([command, str(src), "-o", out, *extra]) == 2, out
        one_line_error(capsys, message)
    assert names(tmp_path) == before and names(folder) == []
    assert not (tmp_path / "nowhere").exists()


def test_an_unreadable_or_odd_input_gets_one_line(tmp_path, capsys):
    assert main(["compress", str(tmp_path), "-o", str(tmp_path / "o")]) == 2
    one_line_error(capsys, "is a folder, a device or a pipe")
    assert main(["compress", "/dev/null", "-o", str(tmp_path / "o")]) == 2
    one_line_error(capsys, "not a file")
    assert main(["decompress", str(tmp_path / ("y" * 300)), "-o", "o"]) == 2
    one_line_error(capsys, "File name too long")
    assert names(tmp_path) == []


@pytest.mark.skipif(ROOT, reason="root writes into read-only folders")
def test_a_read_only_folder_gets_one_line(tmp_path, capsys, src):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert main(["compress", str(src), "-o", str(ro / "c.gtz")]) == 2
        one_line_error(capsys, "Permission denied")
        assert names(ro) == []
    finally:
        ro.chmod(0o755)


def test_a_refused_write_is_one_line_and_leaves_nothing(tmp_path, capsys, src,
                                                        monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(files.os, "replace", denied)
    assert main(["compress", str(src), "-o", str(tmp_path / "c.gtz")]) == 2
    one_line_error(capsys, "Permission denied")
    assert names(tmp_path) == ["in.txt"]


def test_a_full_disk_keeps_the_good_file_and_leaves_nothing(tmp_path, src):
    good = tmp_path / "c.gtz"
    good.write_bytes(b"the user's good file")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3000))  # compresses to more than the 1,000-byte limit
    rc, _, err = run_cli("compress", str(big), "-o", str(good), "--force",
                         limit_file_size=1000)
    assert rc == 2 and len(err.splitlines()) == 1 and "File too large" in err, err
    assert "existing file is unchanged" in err
    assert good.read_bytes() == b"the user's good file"
    assert names(tmp_path) == ["big.bin", "c.gtz", "in.txt"]


def test_no_space_left_while_flushing(tmp_path, capsys, src, monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    assert main(["compress", str(src), "-o", str(tmp_path / "c.gtz")]) == 2
    one_line_error(capsys, "No space left on device")
    assert names(tmp_path) == ["in.txt"]


def test_an_interrupted_write_leaves_nothing(tmp_path, src, monkeypatch):
    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "fsync", interrupted)
    assert main(["compress", str(src), "-o", str(tmp_path / "c.gtz")]) == 130
    assert names(tmp_path) == ["in.txt"]


# ------------------------------------------------------- permissions and links


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_new_outputs_take_the_inputs_permissions_within_the_umask(tmp_path, src):
    old_umask = os.umask(0o022)
    try:
        src.chmod(0o751)  # an executable
        assert main(["compress", str(src), "-o", str(tmp_path / "c.gtz")]) == 0
        assert mode(tmp_path / "c.gtz") == 0o751
        assert main(["decompress", str(tmp_path / "c.gtz"), "-o",
                     str(tmp_path / "back")]) == 0
        assert mode(tmp_path / "back") == 0o751  # still executable
        src.chmod(0o600)  # private stays private
        assert main(["compress", str(src), "-o", str(tmp_path / "p.gtz")]) == 0
        assert mode(tmp_path / "p.gtz") == 0o600
        os.umask(0o077)
        src.chmod(0o666)
        assert main(["compress", str(src), "-o", str(tmp_path / "u.gtz")]) == 0
        assert mode(tmp_path / "u.gtz") == 0o600  # the umask limits
    finally:
        os.umask(old_umask)


def test_from_standard_input_a_new_output_is_0666_less_the_umask(tmp_path):
    old_umask = os.umask(0o027)
    try:
        rc, _, _ = run_cli("compress", "-", "-o", str(tmp_path / "c.gtz"), stdin=DATA)
        assert rc == 0 and mode(tmp_path / "c.gtz") == 0o640
    finally:
        os.umask(old_umask)


def test_an_overwritten_output_keeps_its_permissions(tmp_path, src, capsys):
    out = tmp_path / "c.gtz"
    out.write_bytes(b"old")
    out.chmod(0o640)
    assert main(["compress", str(src), "-o", str(out)]) == 2  # --force needed
    one_line_error(capsys, "use --force")
    assert out.read_bytes() == b"old"
    assert main(["compress", str(src), "-o", str(out), "--force"]) == 0
    assert mode(out) == 0o640 and codec.decompress(out.read_bytes()) == DATA


def test_a_symbolic_link_is_written_through(tmp_path, src, capsys):
    real = tmp_path / "real.gtz"
    real.write_bytes(b"old")
    link = tmp_path / "link.gtz"
    link.symlink_to(real)
    assert main(["compress", str(src), "-o", str(link)]) == 2  # exists: --force
    one_line_error(capsys, "exists")
    assert main(["compress", str(src), "-o", str(link), "--force"]) == 0
    assert link.is_symlink() and codec.decompress(real.read_bytes()) == DATA
    assert names(tmp_path) == ["in.txt", "link.gtz", "real.gtz"]


def test_the_input_is_never_the_output(tmp_path, src, capsys):
    link = tmp_path / "link"
    link.symlink_to(src)
    hard = tmp_path / "hard"
    os.link(src, hard)
    for out in (src, link, hard):
        assert main(["compress", str(src), "-o", str(out), "--force"]) == 2
        one_line_error(capsys, "would overwrite the input")
    assert src.read_bytes() == DATA


# ------------------------------------------------------------------ big inputs


def test_big_inputs_get_a_warning_with_the_time_to_expect(tmp_path, src, capsys,
                                                          monkeypatch):
    monkeypatch.setattr(codec, "WARN_BYTES", 100)
    assert main(["compress", str(src), "-o", str(tmp_path / "c.gtz")]) == 0
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "warning:" in err and "expect about" in err
    assert main(["decompress", str(tmp_path / "c.gtz"), "-o",
                 str(tmp_path / "back")]) == 0
    assert "expect about" in capsys.readouterr().err
    monkeypatch.setattr(codec, "WARN_BYTES", 10**6)
    assert main(["compress", str(src), "-o", str(tmp_path / "d.gtz")]) == 0
    assert capsys.readouterr().err == ""


def test_expected_cost_grows_with_the_input_and_the_model():
    t1, m1 = codec.expected_cost(2**20)
    t4, m4 = codec.expected_cost(2**22)
    assert t4 == pytest.approx(4 * t1) and m4 > m1
    assert codec.slow_warning(2**20) is None
    assert "MiB" in codec.slow_warning(2**23)
    gru, _ = codec.expected_cost(2**20, "gru")
    assert gru > t1
