"""Building blocks shared by the models: gradient reversal, the image history pool, conv stacks, GAN losses and
WGAN-GP's gradient penalty."""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.scale * grad, None


class GradientReversal(nn.Module):
    """Identity forward, gradient times -scale backward (Ganin et al.): what minimises the classifier maximises
    its loss for everything upstream, so the encoders learn to fool the domain classifier."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ReverseGradient.apply(x, self.scale)


class ImagePool(nn.Module):
    """History of generated images for the discriminator (Shrivastava et al.; CycleGAN's pool of 50).

    The stored images are buffers, so they are checkpointed with the weights and resume continues exactly.
    """

    def __init__(self, capacity: int, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.capacity = capacity
        self.register_buffer("images", torch.zeros(capacity, *image_shape))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def query(self, batch: torch.Tensor) -> torch.Tensor:
        """Each image is stored while there is room; once full, half the time it is swapped for a stored one.

        Decided on the host for the whole batch, then applied with three indexed copies: one device sync per query
        instead of one per image. Swaps apply in batch order, so a slot drawn twice hands the second image the first.
        """
        if self.capacity == 0:
            return batch
        batch = batch.to(self.images.dtype)  # under autocast, translations arrive in half precision
        filled = int(self.count)
        room = min(self.capacity - filled, len(batch))
        self.images[filled:filled + room] = batch[:room]
        self.count += room
        swapping = len(batch) - room
        coins, slots = torch.rand(swapping).tolist(), torch.randint(self.capacity, (swapping,)).tolist()
        holder: dict[int, int] = {}  # slot -> the batch image now in it; absent: the slot keeps its stored image
        from_history, from_batch = [], []  # (output position, slot) and (output position, batch position)
        for i, coin, slot in zip(range(room, len(batch)), coins, slots):
            if coin < 0.5:
                (from_batch if slot in holder else from_history).append((i, holder.get(slot, slot)))
                holder[slot] = i
        out = batch.clone()
        for pairs, source in ((from_history, self.images), (from_batch, batch)):
            if pairs:
                to, take = torch.tensor(pairs, device=batch.device).T
                out[to] = source[take]
        if holder:
            self.images[torch.tensor(list(holder), device=batch.device)] = batch[torch.tensor(list(holder.values()), device=batch.device)]
        return out


def make_norm(kind: str, channels: int) -> nn.Module:
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "layer":  # per sample over (C, H, W): keeps each channel's amplitude, which carries the embedding
        return nn.GroupNorm(1, channels)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm '{kind}' (layer, instance, batch, none)")


def down(c_in: int, c_out: int, norm: str, first: bool = False) -> nn.Sequential:
    """4x4 stride-2 conv halving the resolution (DCGAN style); no norm on the layer that sees pixels."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 4, 2, 1), make_norm("none" if first else norm, c_out),
                         nn.LeakyReLU(0.2, inplace=True))


class ProjectTo4x4(nn.ConvTranspose2d):
    """ConvTranspose2d(c_in, c_out, 4) from a 1x1 input, the decoders' first layer, computed as the matrix product it
    is: z @ W + b. Same parameters; PyTorch's CPU transposed convolution runs this shape ~12x below GEMM speed."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(c_in, c_out, 4)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.shape[-2:] != (1, 1):
            return super().forward(z)
        out = z.flatten(1) @ self.weight.flatten(1)
        return out.unflatten(1, (self.out_channels, 4, 4)) + self.bias[:, None, None]  # batch stays dynamic in ONNX


def up(c_in: int, c_out: int, norm: str, last: bool = False) -> nn.Sequential:
    """4x4 stride-2 transposed conv doubling the resolution; the last one outputs tanh pixels."""
    if last:
        return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), nn.Tanh())
    return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), make_norm(norm, c_out), nn.ReLU(inplace=True))


def downsamplings(image_size: int) -> int:
    """Stride-2 stages from image_size down to 4x4, the resolution all the seed's stacks end at."""
    stages = math.log2(image_size / 4)
    if image_size < 8 or stages != int(stages):
        raise ValueError(f"image size must be a power of two >= 8, not {image_size}")
    return int(stages)


def scaled(channels: int, width: float) -> int:
    if width <= 0:
        raise ValueError(f"model.width must be > 0 (a multiple of the reference channel counts), not {width}")
    return max(1, round(channels * width))


def shared_pair(make: Callable[[], list[nn.Module]], shared: list[int]) -> tuple[nn.Sequential, nn.Sequential]:
    """Two stacks built by `make`, where the layers at the `shared` positions are one and the same module."""
    first, second = make(), make()
    for i in shared:
        second[i] = first[i]
    return nn.Sequential(*first), nn.Sequential(*second)


def gan_loss(logits: torch.Tensor, real: bool, kind: str) -> torch.Tensor:
    """'bce': sigmoid cross-entropy on logits (Goodfellow et al.); 'lsgan': least squares to 1/0 (Mao et al.);
    'wgan': the critic's score itself (Arjovsky et al.), -mean for real, +mean for fake, so a critic minimises
    -E[D(real)] + E[D(fake)] and a generator -E[D(fake)] (gan_loss(D(fake), True, 'wgan'))."""
    if kind == "wgan":
        return -logits.mean() if real else logits.mean()
    target = torch.full_like(logits, 1.0 if real else 0.0)
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits, target)
    if kind == "lsgan":
        return F.mse_loss(logits, target)
    raise ValueError(f"unknown gan loss '{kind}' (bce, lsgan, wgan)")


# a model's `gan_mode` key -> the gan_loss kind; 'wgan-gp' adds gradient_penalty to the critic's loss
GAN_MODES = {"lsgan": "lsgan", "vanilla": "bce", "wgan": "wgan", "wgan-gp": "wgan"}


def check_gan_mode(mode: str, allowed: tuple[str, ...] = tuple(GAN_MODES)) -> str:
    """The gan_loss kind of a model's `gan_mode`, refusing one the model does not support."""
    if mode not in allowed:
        raise ValueError(f"model.gan_mode must be one of {allowed}, not '{mode}'")
    return GAN_MODES[mode]


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                     fake: torch.Tensor) -> torch.Tensor:
    """WGAN-GP's penalty (Gulrajani et al.): E[(||grad D(x_hat)||_2 - 1)^2] at x_hat = real + eps (fake - real),
    eps ~ U[0, 1] per image; unweighted (the paper's lambda is 10). A patch critic's scores are summed, as
    tf.gradients and the CycleGAN reference's penalty do. The graph is kept, so the penalty trains the critic."""
    eps = torch.rand(len(real), *[1] * (real.dim() - 1), device=real.device, dtype=real.dtype)
    x_hat = (real.detach() + eps * (fake.detach() - real.detach())).requires_grad_(True)
    scores = critic(x_hat)
    grad, = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    norm = (grad.flatten(1).pow(2).sum(1) + 1e-12).sqrt()  # the epsilon keeps the square root differentiable at 0
    return (norm - 1).pow(2).mean()


def conv_block(c_in: int, c_out: int, kernel: int, stride: int, norm: str,
               act: nn.Module | None = None) -> nn.Sequential:
    """Reflection padding, conv, norm, activation (ReLU unless given): the official UNIT/MUNIT Conv2dBlock."""
    return nn.Sequential(nn.ReflectionPad2d((kernel - 1) // 2), nn.Conv2d(c_in, c_out, kernel, stride),
                         make_norm(norm, c_out), act if act is not None else nn.ReLU(inplace=True))


def multiscale_gan_loss(maps: list[torch.Tensor], real: bool, kind: str = "lsgan") -> torch.Tensor:
    """gan_loss over every scale's patch map of a multi-scale critic, summed over scales (UNIT/MUNIT's sum)."""
    return sum(gan_loss(m, real, kind) for m in maps)


def squared_norm(parameters: list[nn.Parameter]) -> torch.Tensor:
    """|theta|^2: times weight_decay / 2 its gradient is Adam's (coupled) weight_decay * theta, so an official
    code's Adam weight decay is this loss term."""
    return sum(p.pow(2).sum() for p in parameters)


def says_real(logits: torch.Tensor, kind: str) -> torch.Tensor:
    """The discriminator's hard decision: BCE logits above 0, least-squares outputs above 0.5."""
    return logits > (0.0 if kind == "bce" else 0.5)
