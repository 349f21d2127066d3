import numpy as np
import pytest
import torch

from learned.images import check_image, crop, pad_to_multiple, to_gray_uint8, to_rgb_tensor


def test_uint8_and_float_images_agree():
    u = np.arange(12, dtype=np.uint8).reshape(2, 2, 3) * 20
    f = check_image(u)
    assert f.dtype == np.float32 and f.shape == (2, 2, 3)
    np.testing.assert_allclose(f * 255, u, atol=1e-4)
    assert check_image(u[..., 0]).shape == (2, 2, 1)


def test_grey_conversion_and_tensor():
    img = check_image(np.full((3, 4, 3), 200, np.uint8))
    assert (to_gray_uint8(img) == 200).all()
    t = to_rgb_tensor(check_image(np.full((3, 4), 51, np.uint8)), "cpu")
    assert t.shape == (1, 3, 3, 4) and torch.allclose(t, torch.tensor(0.2))


@pytest.mark.parametrize("h, w", [(1, 1), (8, 8), (37, 53)])
def test_pad_then_crop_is_identity(h, w):
    x = torch.rand(1, 2, h, w)
    padded, size = pad_to_multiple(x, 8)
    assert padded.shape[-2] % 8 == 0 and padded.shape[-1] % 8 == 0
    assert padded.shape[-2] - h < 8 and padded.shape[-1] - w < 8
    assert torch.equal(crop(padded, size), x)
