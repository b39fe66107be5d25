"""Round 48's bad inputs (review R7): sparse tensors, the memory guard, empty lengths with a mask.

- F4: a sparse tensor (any layout but torch.strided) passed every check and failed deep inside
  torch ("reshape is not implemented for sparse tensors", "Could not run 'aten::any.dim' …").
- F1: ``fits_in_memory`` compared a size with the machine's TOTAL memory, so AddNorm(2**31) or
  train(num_items=2**31) filled 16 GiB of a shared 23.5 GiB machine. It now compares with what
  this process can get (MemAvailable, the cgroup's limit less its usage, RLIMIT_AS). Nothing big
  is allocated here: the readings are faked, and the real refusals run in a subprocess whose
  address space is capped, so a guard that let them through fails at once inside torch.
- F5: an empty query (or key) given with a mask for another length was blamed on the mask.
- F3: the (B, Lk) key-padding recipe is in MultiHeadAttention's docstring.
"""

import subprocess
import sys
import textwrap

import pytest
import torch
from refusals import IDS, SMALL, X
from transformer_course import _validate, masks
from transformer_course.attention import (
    MultiHeadAttention,
    SingleHeadAttention,
    scaled_dot_product_attention,
)
from transformer_course.layers import DecoderLayer, EncoderLayer
from transformer_course.model import DecoderOnlyTransformer, TransformerConfig
from transformer_course.pointer import PronounPointer
from transformer_course.stacks import Decoder, Encoder

GIB = 2**30
MASK = torch.ones(4, 4, dtype=torch.bool)  # (L, L) for X's length 4

# ---------------------------------------------------------------- F4: sparse tensors

SPARSE_CASES = [
    ("MHA query", lambda: MultiHeadAttention(8, 2)(X.to_sparse()), "query"),
    ("MHA mask", lambda: MultiHeadAttention(8, 2)(X, mask=MASK.to_sparse()), "mask"),
    ("sdpa q", lambda: scaled_dot_product_attention(X.to_sparse(), X, X), "q"),
    ("sdpa mask", lambda: scaled_dot_product_attention(X, X, X, MASK.to_sparse()), "mask"),
    ("GPT ids", lambda: DecoderOnlyTransformer(SMALL)(IDS.to_sparse()), "ids"),
    ("padding_mask ids", lambda: masks.padding_mask(IDS.to_sparse(), 0), "ids"),
    ("EncoderLayer x", lambda: EncoderLayer(8, 2, 16)(X.to_sparse()), "x"),
    ("to_blocked mask", lambda: masks.to_blocked(MASK.to_sparse()), "mask"),
    ("sdpa q (CSR)", lambda: scaled_dot_product_attention(X[0].to_sparse_csr(), X[0], X[0]), "q"),
]


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")
@pytest.mark.parametrize(
    ("call", "argument"), [c[1:] for c in SPARSE_CASES], ids=[c[0] for c in SPARSE_CASES]
)
def test_a_sparse_tensor_is_refused_by_name_with_the_fix(call, argument):
    with pytest.raises(
        ValueError, match=rf"^{argument} must be a dense tensor \(layout torch.strided\)"
    ) as info:
        call()
    assert f"call {argument}.to_dense()" in str(info.value)


def test_the_check_says_which_layout_it_got():
    with pytest.raises(ValueError, match=r"got torch.sparse_coo: call ids.to_dense\(\)"):
        _validate.tensor("ids", IDS.to_sparse())
    with pytest.raises(ValueError, match=r"got torch.sparse_csr"):
        _validate.bool_mask("mask", MASK.to_sparse_csr())
    assert _validate.tensor("x", X.transpose(1, 2)) is not None  # strided, not contiguous: fine


# ---------------------------------------------------------------- F1: the memory guard


def _fake_system(monkeypatch, tmp_path, *, available_gib=None, cgroup=None, total_gib=23.5):
    """Point the guard at files under tmp_path: /proc/meminfo saying ``available_gib`` (absent
    when None), and ``cgroup`` = (self_cgroup text, {relative path: text}) for the cgroup files."""
    meminfo = tmp_path / "meminfo"
    if available_gib is not None:
        kib = int(available_gib * GIB / 1024)
        meminfo.write_text(f"MemTotal:       {int(total_gib * 2**20)} kB\nMemAvailable:   {kib} kB\n")
    self_cgroup, files = cgroup or ("", {})
    (tmp_path / "self_cgroup").write_text(self_cgroup)
    for relative, text in files.items():
        path = tmp_path / "cg" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    monkeypatch.setattr(_validate, "_MEMINFO", str(meminfo))
    monkeypatch.setattr(_validate, "_SELF_CGROUP", str(tmp_path / "self_cgroup"))
    monkeypatch.setattr(_validate, "_CGROUP_ROOT", str(tmp_path / "cg"))
    monkeypatch.setattr(_validate, "_MEMORY_BYTES", int(total_gib * GIB))


def test_a_size_under_the_total_but_over_the_available_memory_is_refused(monkeypatch, tmp_path):
    """R7's case: AddNorm(2**31)'s 16 GiB passed a 23.5 GiB machine with 7 GiB left."""
    _fake_system(monkeypatch, tmp_path, available_gib=7)
    with pytest.raises(ValueError, match=r"^2 × d_model must be smaller: .*\(16.0 GiB\)") as info:
        _validate.fits_in_memory("2 × d_model", 2 * 2**31)
    assert "7.0 GiB available" in str(info.value) and "23.5 GiB" in str(info.value)
    _validate.fits_in_memory("2 × d_model", 2 * 2**29)  # 4 GiB of the 7: still taken


def test_the_cgroup_v2_limit_less_its_working_set_is_what_is_left(monkeypatch, tmp_path):
    """limit 4 GiB, usage 3.5 GiB of which 1 GiB is page cache the kernel can drop: 1.5 GiB."""
    files = {
        "job/memory.max": f"{4 * GIB}\n",
        "job/memory.current": f"{int(3.5 * GIB)}\n",
        "job/memory.stat": f"anon 123\ninactive_file {GIB}\nactive_file 5\n",
        "memory.max": "max\n",  # the root: no limit
    }
    _fake_system(monkeypatch, tmp_path, available_gib=20, cgroup=("0::/job\n", files))
    with pytest.raises(ValueError, match=r"1.5 GiB available"):
        _validate.fits_in_memory("num_items", 2**28, bytes_each=8)  # 2 GiB
    _validate.fits_in_memory("num_items", 2**27, bytes_each=8)  # 1 GiB


def test_a_parent_cgroups_limit_counts_too(monkeypatch, tmp_path):
    """limit 3 GiB on /a, 1 GiB used there; /a/b (this process) has no limit of its own."""
    files = {"a/memory.max": f"{3 * GIB}\n", "a/memory.current": f"{GIB}\n", "a/b/memory.max": "max\n"}
    _fake_system(monkeypatch, tmp_path, available_gib=20, cgroup=("0::/a/b\n", files))
    with pytest.raises(ValueError, match=r"2.0 GiB available"):
        _validate.fits_in_memory("x", 3 * 2**28)  # 3 GiB


def test_the_cgroup_v1_memory_controller_is_read(monkeypatch, tmp_path):
    files = {
        "memory/grp/memory.limit_in_bytes": f"{2 * GIB}\n",
        "memory/grp/memory.usage_in_bytes": f"{GIB}\n",
        "memory/grp/memory.stat": "cache 5\ntotal_inactive_file 0\n",
        "memory/memory.limit_in_bytes": "9223372036854771712\n",  # v1's "no limit"
        "memory/memory.usage_in_bytes": f"{10 * GIB}\n",
    }
    self_cgroup = "9:name=systemd:/\n4:memory:/grp\n0::/\n"
    _fake_system(monkeypatch, tmp_path, available_gib=20, cgroup=(self_cgroup, files))
    with pytest.raises(ValueError, match=r"1.0 GiB available"):
        _validate.fits_in_memory("x", 2**29)  # 2 GiB
    _validate.fits_in_memory("x", 2**27)  # 0.5 GiB


def test_where_nothing_can_be_read_the_total_decides_as_before(monkeypatch, tmp_path):
    _fake_system(monkeypatch, tmp_path, available_gib=None, total_gib=8)  # no meminfo, no cgroup
    _validate.fits_in_memory("x", 2**30)  # 4 GiB of 8
    with pytest.raises(ValueError, match=r"do not fit in this machine's memory \(8.0 GiB"):
        _validate.fits_in_memory("x", 3 * 2**30)  # 12 GiB


def test_small_sizes_never_read_the_system(monkeypatch, tmp_path):
    """A layer's check runs at every call: below 256 MiB nothing is read (and torch.compile,
    which cannot trace a file read, never meets one)."""
    _fake_system(monkeypatch, tmp_path, available_gib=0.01)
    _validate.fits_in_memory("x", 2**20)  # 4 MiB although only 10 MiB is said to be left
    monkeypatch.setattr(_validate, "_MEMINFO", "/nonexistent/meminfo")
    _validate.fits_in_memory("x", 2**20)


def test_the_sizes_of_every_chapter_still_pass_on_this_machine():
    """The guard reads the real machine: the course's sizes, and a 64 MiB one, pass."""
    for numel in (10**3, 10**6, 2**24):
        _validate.fits_in_memory("x", numel)
    EncoderLayer(64, 4, 256)(torch.randn(2, 16, 64))


CAPPED = textwrap.dedent(
    """
    import resource, sys, torch
    from torch import nn
    from transformer_course import data, layers, training
    # Room for 512 MiB more than this process holds: a guard that let a 16 GiB tensor through
    # fails inside torch's allocator (a RuntimeError), it cannot fill the machine.
    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (vm + 2**29, resource.getrlimit(resource.RLIMIT_AS)[1]))
    calls = {
        "AddNorm": lambda: layers.AddNorm(2**31),
        "batches": lambda: next(data.batches(2**31, 4)),
        "train": lambda: training.train(
            nn.Linear(2, 2), lambda m, b: m(b).sum(), lambda i: torch.randn(len(i), 2), 2**31,
            steps=1, progress=False,
        ),
    }
    try:
        calls[sys.argv[1]]()
    except ValueError as error:
        print("ValueError:", error)
    except Exception as error:
        print(type(error).__name__, str(error)[:200])
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc: Linux")
@pytest.mark.parametrize(
    ("call", "argument"), [("AddNorm", "d_model"), ("batches", "num_items"), ("train", "num_items")]
)
def test_the_real_calls_are_refused_before_they_allocate(call, argument):
    env = {"PYTHONPATH": "lib", "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [sys.executable, "-c", CAPPED, call], capture_output=True, text=True, env=env, timeout=120
    )
    assert run.stdout.startswith("ValueError:"), run.stdout + run.stderr[-2000:]
    assert argument in run.stdout and "GiB available" in run.stdout, run.stdout


# ---------------------------------------------------------------- F5: empty lengths with a mask

E = X[:, :0]  # (2, 0, 8): no positions


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: scaled_dot_product_attention(E, X, X, MASK), "q"),
        (lambda: scaled_dot_product_attention(X, E, E, MASK), "k"),
        (lambda: SingleHeadAttention(8)(E, X, MASK), "x"),
        (lambda: SingleHeadAttention(8)(X, E, MASK), "context"),
        (lambda: MultiHeadAttention(8, 2)(E, X, X, MASK), "query"),
        (lambda: MultiHeadAttention(8, 2)(X, E, E, MASK), "key"),
        (lambda: EncoderLayer(8, 2, 16)(E, MASK), "x"),
        (lambda: DecoderLayer(8, 2, 16)(E, X, MASK), "x"),
        (lambda: DecoderLayer(8, 2, 16)(X, E, None, MASK), "memory"),
        (lambda: Encoder(SMALL)(E, MASK), "x"),
        (lambda: Decoder(SMALL)(E, X, MASK), "x"),
    ],
    ids=[
        "sdpa q",
        "sdpa k",
        "one head x",
        "one head context",
        "MHA query",
        "MHA key",
        "encoder layer",
        "decoder layer x",
        "decoder layer memory",
        "encoder",
        "decoder",
    ],
)
def test_an_empty_length_with_a_mask_for_another_names_the_empty_input(call, argument):
    with pytest.raises(ValueError, match=rf"^{argument} is empty \(no positions") as info:
        call()
    assert "does not broadcast" in str(info.value)


def test_an_empty_length_with_a_mask_that_fits_it_is_taken_as_without_a_mask():
    """The no-mask path returns an empty output: a mask (0, Lk) or (1, Lk) gives the same."""
    m = MultiHeadAttention(8, 2).eval()
    want = m(E, X)[0]
    for mask in (torch.ones(0, 4, dtype=torch.bool), torch.ones(1, 4, dtype=torch.bool)):
        out, weights = m(E, X, X, mask)
        assert out.shape == want.shape == (2, 0, 8) and weights.shape == (2, 2, 0, 4)
    out = EncoderLayer(8, 2, 16).eval()(E, torch.ones(0, 0, dtype=torch.bool))
    assert out.shape == (2, 0, 8)


def test_a_pronoun_pointer_given_empty_sentences_names_ids():
    config = TransformerConfig(
        vocab_size=12, d_model=8, num_heads=2, num_encoder_layers=1, d_ff=16, max_len=16
    )
    pointer = PronounPointer(config)
    with pytest.raises(
        ValueError, match=r"^ids must hold at least one token per sentence.*got shape \(2, 0\)"
    ):
        pointer(torch.zeros(2, 0, dtype=torch.long), torch.tensor([0, 0]))


# ---------------------------------------------------------------- F3: the key-padding recipe


def test_the_docstrings_say_how_a_key_padding_mask_is_given():
    doc = MultiHeadAttention.forward.__doc__
    assert "key_padding_mask" in doc and "[:, None, None, :]" in doc
    assert "[:, None, :]" in scaled_dot_product_attention.__doc__
