"""Rate–distortion points: rates under both header rules, scores, matched rates."""

import pytest
import torch

import gantutor as gt
from gantutor import gencodec as gc
from gantutor import ratedistortion as rd
from gantutor.errors import GantutorError

SHAPE = (1, 8, 8)


class FakeClassifier:
    """Predicts class 1 when the image is mostly bright, else class 0."""

    def predict(self, x):
        return (x.flatten(1).mean(1) > 0).long()


def point(codec, set_bytes, psnr, kept, file_bytes=None):
    return rd.RDPoint(codec, "s", 10, 64, file_bytes or set_bytes + 100, set_bytes,
                      psnr, 0.5, kept, torch.zeros(1, *SHAPE))


def test_bits_per_pixel_is_eight_bytes_over_pixels():
    assert rd.bits_per_pixel(98, 1, 784) == pytest.approx(1.0)
    assert rd.bits_per_pixel(1000, 10, 64) == pytest.approx(12.5)
    p = point("a", set_bytes=8.0, psnr=10, kept=0.5, file_bytes=16.0)
    assert p.bpp("set") == pytest.approx(1.0) and p.bpp("file") == pytest.approx(2.0)
    with pytest.raises(GantutorError, match="accounting"):
        p.bpp("bytes")


def test_matched_rate_takes_the_best_point_that_spends_no_more():
    points = [point("JPEG", 40, 18.0, 0.9), point("JPEG", 80, 22.0, 0.95),
              point("gan", 10, 12.0, 0.5), point("gan", 30, 17.0, 0.92),
              point("gan", 50, 17.5, 0.93)]
    assert rd.lowest_rate(points, "JPEG").set_bytes == 40
    assert rd.at_rate(points, "gan", 5.0).set_bytes == 30  # 40 bytes = 5 bpp
    assert rd.at_rate(points, "gan", 1.0) is None
    line = rd.rd_summary_line(points, "gan")
    assert line == ("at_bpp=5.000 gantutor_psnr=17.00 jpeg_psnr=18.00 "
                    "gantutor_class_kept=0.920 jpeg_class_kept=0.900")
    with pytest.raises(GantutorError, match="no points for codec"):
        rd.lowest_rate(points, "WebP")
    with pytest.raises(GantutorError, match="coarser"):
        rd.rd_summary_line([point("JPEG", 5, 1, 1), point("gan", 10, 1, 1)], "gan")


def test_measure_scores_decoded_images_against_the_originals():
    x = torch.rand(12, *SHAPE) * 2 - 1
    noisy = (x + 0.1 * torch.randn_like(x)).clamp(-1, 1)
    y = FakeClassifier().predict(x)
    p = rd.measure("c", "s", x, noisy, y, FakeClassifier(), 120.0, 60.0, keep=3)
    assert p.n == 12 and p.pixels == 64
    assert p.file_bytes == 10.0 and p.set_bytes == 5.0
    assert p.psnr == pytest.approx(float(gt.metrics.psnr(noisy, x).mean()))
    assert p.ssim == pytest.approx(float(gt.metrics.ssim(noisy, x).mean()))
    assert p.examples.shape == (3, *SHAPE)
    flipped = rd.measure("c", "s", x, -x, y, FakeClassifier(), 1.0, 1.0)
    assert flipped.class_kept < 0.2 < p.class_kept


def test_latent_points_cost_more_and_decode_closer_at_finer_steps():
    torch.manual_seed(0)
    G, _ = gt.build_gan("mlp", SHAPE, z_dim=4, g_hidden=(32,))
    z = torch.randn(30, 4)
    x = gc.decode_latents(G, z)
    codec = gc.LatentCodec("G", lambda images: z[:len(images)], G)
    y = FakeClassifier().predict(x)
    with pytest.raises(GantutorError, match="no prior"):
        rd.latent_points(codec, x, y, FakeClassifier())
    codec.fit_prior(x)
    points = rd.latent_points(codec, x, y, FakeClassifier(), steps=(2.0, 0.5, 0.05))
    assert [p.setting for p in points] == ["step 2", "step 0.5", "step 0.05"]
    rates = [p.bpp() for p in points]
    assert rates == sorted(rates)
    assert points[-1].psnr > points[0].psnr
    assert all(p.bpp("file") > p.bpp("set") for p in points)


def test_set_rate_counts_the_header_once():
    bpp = rd.set_bits_per_pixel(300, torch.tensor([60.0, 62, 55, 71]), 784)
    assert bpp == pytest.approx(8 * (300 + 248) / (4 * 784))


def test_unlike_training_sets_and_matched_rows():
    x = torch.rand(4, *SHAPE) * 2 - 1
    sets = rd.unlike_training(x)
    assert torch.equal(sets["negative"], -x)
    assert torch.equal(sets["turned 90°"][0, 0, 0], x[0, 0, :, -1])
    points = [point("JPEG", 40, 18.0, 0.9), point("gan", 30, 17.0, 0.92)]
    rows = rd.matched_rows(points, x, bpp=4.0, codecs=["gan", "JPEG"])
    labels = list(rows)
    assert labels[0] == "original" and labels[1].startswith("gan\n3.75 bpp")
    assert labels[2].startswith("JPEG: cannot go")
    assert rows[labels[2]].shape == rows["original"].shape


def test_pillow_points_and_the_table():
    x = gt.load_dataset("digits", "test").x[:10]
    y = FakeClassifier().predict(x)
    points = rd.pillow_points("JPEG", (1, 90), x, y, FakeClassifier())
    assert [p.codec for p in points] == ["JPEG", "JPEG"]
    assert points[1].psnr > points[0].psnr and points[1].bpp() > points[0].bpp()
    table = rd.format_rd_table(points)
    lines = table.splitlines()
    assert len(lines) == 4 and "bpp set" in lines[0] and "quality 90" in lines[3]


def test_other_images_and_their_rows():
    torch.manual_seed(0)
    G, _ = gt.build_gan("mlp", SHAPE, z_dim=4, g_hidden=(32,))
    x = gc.decode_latents(G, torch.randn(6, 4))
    codec = gc.LatentCodec("G", lambda images: torch.zeros(len(images), 4), G)
    codec.fit_prior(x)
    sets = rd.unlike_training(x)
    points = rd.other_images([codec], sets, torch.zeros(6, dtype=torch.long),
                             FakeClassifier(), step=0.5, keep=4)
    assert [p.setting for p in points] == [
        "as they are: step 0.5", "as they are: quality 1", "negative: step 0.5",
        "negative: quality 1", "turned 90°: step 0.5", "turned 90°: quality 1"]
    assert points[0].parameter == 0.5 and points[1].parameter == 1
    rows = rd.rows_by_set(sets, points)
    assert [label.split("\n")[0] for label, _ in rows] == [
        "as they are", "G", "JPEG", "negative", "G", "JPEG", "turned 90°", "G", "JPEG"]
    assert all(images.shape == (4, *SHAPE) for _, images in rows)
    fig = gt.plot.image_rows(rows, n=4)
    assert len(fig.axes) == 9
