"""Scaling up: the step's cost counted and by formula, the baseline loops, the timer,
and the speed paths of train_gan (torch.compile, bf16 autocast, channels-last)."""

import copy
import functools

import pytest
import torch

import gantutor as gt
from gantutor import scaling
from gantutor.errors import GantutorError


@pytest.fixture(scope="module")
def digits():
    return gt.load_dataset("digits")


def nets(model, data, **kw):
    torch.manual_seed(0)
    return gt.build_gan(model, data.shape, hidden=(32, 32), width=8, **kw)


def config(steps=4, **kw):
    return gt.TrainConfig(steps=steps, batch_size=16, log_every=2, checkpoint_every=2,
                          device="cpu", progress=False, **kw)


def weights(*modules):
    return [t for m in modules for t in m.state_dict().values()]


@pytest.mark.parametrize("pack", [1, 2])
def test_mlp_formula_equals_the_counted_flops(digits, pack):
    G, D = nets("mlp", digits, pack=pack)
    cost = scaling.step_cost(G, D, digits, config())
    assert cost.flops == scaling.mlp_step_flops(G, D, 16)


def test_step_cost_leaves_the_networks_untouched_and_repeats(digits):
    G, D = nets("mlp", digits)
    before = [t.clone() for t in weights(G, D)]
    a = scaling.step_cost(G, D, digits, config())
    b = scaling.step_cost(G, D, digits, config())
    assert a == b and a.flops > 0 and a.ops > 10
    assert all(torch.equal(x, y) for x, y in zip(before, weights(G, D)))
    assert 0 < a.intensity < a.flops


def test_traffic_counter_counts_reads_writes_and_no_views():
    x, y = torch.zeros(1000), torch.ones(1000)
    counts = {}
    for name, fn in [("add", lambda: x + y), ("add_", lambda: x.add_(y)),
                     ("view", lambda: x.view(10, 100)), ("sum", lambda: x.sum())]:
        counter = scaling._TrafficCounter()
        with counter:
            fn()
        counts[name] = (counter.ops, counter.bytes)
    assert counts == {"add": (1, 12000), "add_": (1, 12000), "view": (0, 0),
                      "sum": (1, 4004)}


@pytest.mark.parametrize("model,extra",
                         [("mlp", {}), ("dcgan", {"channels_last": True})])
def test_minimal_loop_computes_exactly_what_train_gan_computes(digits, model, extra):
    G, D = nets(model, digits)
    G2, D2 = copy.deepcopy(G), copy.deepcopy(D)
    gt.train_gan(G, D, digits, config(**extra))
    scaling.minimal_loop(G2, D2, digits, config(**extra))
    assert all(torch.equal(a, b) for a, b in zip(weights(G, D), weights(G2, D2)))
    with pytest.raises(GantutorError, match="plain unconditional"):
        scaling.minimal_loop(G2, D2, digits, config(d_steps=2))


def test_reference_loop_trains_and_reports(digits):
    G, D = nets("dcgan", digits)
    before = [t.clone() for t in weights(G, D)]
    calls = []
    scaling.reference_loop(G, D, digits, config(steps=5), on_step=calls.append)
    assert calls == [2, 4]
    assert all(torch.isfinite(t).all() for t in weights(G, D))
    changed = [not torch.equal(a, b) for a, b in zip(before, weights(G, D))]
    assert sum(changed) > len(changed) // 2


def test_steps_per_second_from_the_clock(monkeypatch):
    clock = iter([10.0, 11.0, 11.5, 13.5])  # read at steps 2, 4, 6, 8

    def fake_run(G, D, data, cfg, on_step):
        for step in range(cfg.log_every, cfg.steps + 1, cfg.log_every):
            on_step(step)

    monkeypatch.setattr(scaling.time, "perf_counter", lambda: next(clock))
    cfg = config(steps=8)
    assert scaling.steps_per_second(fake_run, None, None, None, cfg) == 6 / 3.5
    clock = iter([10.0, 11.0, 11.5, 13.5])
    assert scaling.steps_per_second(fake_run, None, None, None, cfg, best=True) == 4
    with pytest.raises(GantutorError, match="warmup_windows"):
        scaling.steps_per_second(fake_run, None, None, None, config(steps=2))


def test_peak_table_names():
    assert scaling.peak_tflops_for("NVIDIA H100 80GB HBM3") == 989
    assert scaling.peak_tflops_for("NVIDIA H100 PCIe") == 756
    assert scaling.peak_tflops_for("NVIDIA H200") == 989
    assert scaling.peak_tflops_for("NVIDIA A100-SXM4-40GB") == 312
    assert scaling.peak_tflops_for("NVIDIA L40S") == 362
    assert scaling.peak_tflops_for("NVIDIA L4") == 121
    assert scaling.peak_tflops_for("Tesla T4") == 65
    assert scaling.peak_tflops_for("NVIDIA GeForce GTX 1080") is None
    assert scaling.peak_tflops("cpu") is None


def test_compiled_training_equals_its_eager_twin(digits, monkeypatch):
    """Under compile, D keeps its gradients (no requires_grad toggling) and G gets
    fresh fakes: the compiled run must compute what the same code computes eagerly.
    The aot_eager backend runs Dynamo and AOTAutograd, where those pitfalls live,
    without the C++ compiler's minutes."""
    real_compile = torch.compile
    monkeypatch.setattr(torch, "compile",
                        functools.partial(real_compile, backend="aot_eager"))
    G, D = nets("mlp", digits)
    G_eager, D_eager = copy.deepcopy(G), copy.deepcopy(D)
    before = [t.clone() for t in weights(G, D)]
    torch._dynamo.reset()
    compiled = gt.train_gan(G, D, digits, config(compile=True))
    monkeypatch.setattr(torch, "compile", lambda module, **kw: module)
    eager = gt.train_gan(G_eager, D_eager, digits, config(compile=True))
    torch.testing.assert_close(weights(G, D), weights(G_eager, D_eager))
    for name, values in eager.as_dict().items():
        assert compiled.as_dict()[name] == pytest.approx(values)
    assert all(not torch.equal(a, b) for a, b in zip(before, weights(G, D)))


def test_bf16_autocast_and_channels_last_train(digits):
    runs = {}
    for name, model, extra in [("fp32", "dcgan", {}),
                               ("channels_last", "dcgan", {"channels_last": True}),
                               ("mlp fp32", "mlp", {}),
                               ("mlp bf16", "mlp", {"amp": True})]:
        G, D = nets(model, digits)
        hist = gt.train_gan(G, D, digits, config(steps=2, **extra))
        assert all(map(torch.isfinite, torch.tensor(hist.d_loss)))
        runs[name] = weights(G, D)
    # channels-last changes only the memory layout: the same numbers up to rounding
    torch.testing.assert_close(runs["channels_last"], runs["fp32"], rtol=1e-3,
                               atol=1e-4)
    # bf16 rounds its products: close to fp32, but not equal (autocast was on); a CPU
    # without bf16 units trains in fp32 and gives exactly the fp32 numbers
    if gt.env.bf16_supported(torch.device("cpu")):
        assert any(not torch.allclose(a, b, atol=1e-6) for a, b in
                   zip(runs["mlp bf16"], runs["mlp fp32"]))
        torch.testing.assert_close(runs["mlp bf16"], runs["mlp fp32"], rtol=0.05,
                                   atol=0.02)
    else:
        assert all(torch.equal(a, b)
                   for a, b in zip(runs["mlp bf16"], runs["mlp fp32"]))


def test_bf16_is_used_on_a_cpu_only_with_bf16_units(monkeypatch):
    cpu = torch.device("cpu")
    for amx, avx512_bf16, expected in [(True, False, True), (False, True, True),
                                       (False, False, False)]:
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda v=amx: v,
                            raising=False)
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported",
                            lambda v=avx512_bf16: v, raising=False)
        assert gt.env.bf16_supported(cpu) is expected
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported", raising=False)
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported", raising=False)
    assert gt.env.bf16_supported(cpu) is False  # a PyTorch that cannot tell


def test_throughput_sweep_table_and_plot(digits):
    variants = {"train_gan": {}, "tutorial loop": scaling.REFERENCE}
    rows = scaling.throughput("mlp", digits, [16, 32], variants,
                              samples_per_window=16, windows=1, device="cpu")
    assert [(r["batch_size"], r["variant"]) for r in rows] == [
        (16, "train_gan"), (16, "tutorial loop"), (32, "train_gan"),
        (32, "tutorial loop")]
    for r in rows:
        assert r["samples_per_s"] == pytest.approx(r["steps_per_s"] * r["batch_size"])
    table = scaling.throughput_table(rows).splitlines()
    assert table[0].split() == ["model", "variant", "B=16", "B=32"]
    assert table[2].split()[:3] == ["mlp", "tutorial", "loop"]
    assert float(table[1].split()[-1]) == pytest.approx(rows[2]["samples_per_s"],
                                                        abs=0.5)
    fig = gt.scaling.plot_throughput(rows)
    assert [ax.get_title() for ax in fig.axes] == ["mlp"]
    assert len(fig.axes[0].lines) == 2


def test_ring_allreduce_bytes():
    assert scaling.ring_allreduce_bytes(1000, 1) == 0
    assert scaling.ring_allreduce_bytes(1000, 2) == 1000
    assert scaling.ring_allreduce_bytes(1000, 8) == 1750


def test_throughput_benchmark_runs_and_prints_its_last_line(capsys, monkeypatch,
                                                            load_benchmark):
    import re

    monkeypatch.setattr(gt.data, "load_or_digits",
                        lambda *a, **k: gt.data.load_dataset("digits"))
    module = load_benchmark("train_throughput")
    assert module.main(["--device", "cpu", "--rounds", "1", "--windows", "1",
                        "--batch-size", "16"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(r"mlp_vs_reference=\d+\.\d\d mlp_vs_minimal=\d+\.\d\d "
                        r"dcgan_vs_reference=\d+\.\d\d dcgan_vs_minimal=\d+\.\d\d "
                        r"device=\S.*", lines[-1]), lines[-1]
    dcgan = [line for line in lines if line.startswith("dcgan  train_gan ")]
    assert dcgan and "channels-last" in dcgan[0]
    # train_gan uses bf16 exactly where the CPU has bf16 units, and says so
    assert ("bf16 autocast" in dcgan[0]) == gt.env.bf16_supported(torch.device("cpu"))
    assert module.fast_settings("mlp", torch.device("cpu"), fp32=True) == {}


def test_compile_path_imports_cpp_extension_without_the_cuda_home_warning(tmp_path):
    """torch.utils.cpp_extension logs "No CUDA runtime is found, using CUDA_HOME=..."
    on import where a CUDA toolkit is found but no GPU is usable; train_gan's compile
    path imports it with that logger quiet. Both in fresh processes, with a toolkit
    and no GPU forced, so the plain import shows the warning the quiet one hides."""
    import os
    import subprocess
    import sys

    if not (torch.cuda._is_compiled() and torch.version.cuda):
        pytest.skip("a torch without CUDA never looks for a CUDA toolkit")
    env = {**os.environ, "CUDA_HOME": str(tmp_path), "CUDA_VISIBLE_DEVICES": ""}

    def stderr(code):
        return subprocess.run([sys.executable, "-c", code], env=env, text=True,
                              capture_output=True, check=True).stderr

    assert "No CUDA runtime is found" in stderr("import torch.utils.cpp_extension")
    quiet = stderr("from gantutor.gan.train import _import_cpp_extension_quietly\n"
                   "_import_cpp_extension_quietly()\n"
                   "import torch.utils.cpp_extension as m\n"
                   "print(m.CUDA_HOME)")
    assert "No CUDA runtime is found" not in quiet
