"""Images, MATLAB-compatible bicubic resize and metrics."""
import numpy as np
import pytest

from sw import data

# MATLAB imresize(…, 0.5, 'bicubic') weights (cubic a=-0.5, antialiasing: kernel stretched x2)
MATLAB_HALF = np.array([-0.0234375, -0.0703125, 0.2265625, 0.8671875, 0.8671875, 0.2265625, -0.0703125, -0.0234375]) / 2


def _matlab_downscale_1d(x):
    """Reference MATLAB imresize x1/2 along one axis: 8 taps, half-sample symmetric borders."""
    n = len(x)
    ext = np.concatenate([x, x[::-1]])
    out = []
    for i in range(n // 2):
        acc = 0.0
        for t, w in enumerate(MATLAB_HALF):
            j = 2 * i - 3 + t
            acc += w * ext[j % (2 * n)] if j >= 0 else w * x[-j - 1]
        out.append(acc)
    return np.array(out)


def test_imresize_matches_matlab_half_weights_and_symmetric_border(rng):
    col = rng.integers(0, 256, 24).astype(np.float64)
    img = np.repeat(col[:, None], 4, axis=1).astype(np.uint8)      # varies along rows only
    ref = _matlab_downscale_1d(col)
    out = data.imresize(img, 0.5)
    assert out.shape == (12, 2)
    assert np.array_equal(out[:, 0], np.clip(np.round(ref), 0, 255).astype(np.uint8))


def test_imresize_constant_is_constant():
    img = np.full((10, 12, 3), 77, np.uint8)
    assert np.all(data.imresize(img, 0.5) == 77) and np.all(data.imresize(img, 2) == 77)


def test_rgb_to_y_matlab_values():
    px = np.array([[[255, 255, 255], [0, 0, 0], [255, 0, 0]]], np.uint8)
    y = data.rgb_to_y(px)
    assert np.allclose(y, [[235.0, 16.0, 16 + 65.481]])


def test_psnr_border_crop():
    a = np.zeros((10, 10), np.uint8)
    b = a.copy()
    b[0, 0] = 255
    assert data.psnr(a, b, border=1, y_only=False) == float("inf")
    assert data.psnr(a, b, border=0, y_only=False) == pytest.approx(20.0, abs=0.01)


def test_modes_are_converted(tmp_path):
    from PIL import Image

    rgba = Image.new("RGBA", (3, 2), (10, 20, 30, 0))
    rgba.save(tmp_path / "a.png")
    assert data.load_image(tmp_path / "a.png").tolist()[0][0] == [255, 255, 255]   # composited on white
    g16 = Image.fromarray(np.full((2, 2), 65535, np.uint16))
    g16.save(tmp_path / "b.png")
    assert data.load_image(tmp_path / "b.png", colors=1).max() == 255
    pal = Image.new("P", (2, 2))
    pal.save(tmp_path / "c.bmp")
    assert data.load_image(tmp_path / "c.bmp").shape == (2, 2, 3)
