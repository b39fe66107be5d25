"""What copying PyTorch's layers into lib's needs: the checks that both are built alike, and
the copy of one Linear or LayerNorm.

``load_from_torch`` (in ``layers`` and ``stacks``) copies weights only; a LayerNorm's eps, the
activation, where the norms sit and whether there are biases are part of the design, which
``check_same_design`` compares first. ``activation_name`` reads PyTorch's activation (a name
it kept as F.relu / F.gelu, or a module) as lib's name for it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def check_same_design(mine: nn.Module, layer: nn.Module, name: str) -> None:
    """``layer`` (PyTorch's, called ``name``) is built as lib's layer ``mine`` is: the same biases,
    sizes, norm placement, activation and LayerNorm eps (which copying the weights would not
    copy), or a ValueError names the difference."""
    if not all(hasattr(mine, a) for a in ("bias", "d_model", "feed_forward", "norm_first", "norm1")):
        raise ValueError(f"mine must be lib's EncoderLayer or DecoderLayer, got {type(mine).__name__}")
    if not isinstance(layer, nn.TransformerEncoderLayer | nn.TransformerDecoderLayer):
        raise ValueError(
            f"{name} must be an nn.TransformerEncoderLayer or nn.TransformerDecoderLayer, "
            f"got {type(layer).__name__}"
        )
    if (layer.linear1.bias is not None) != mine.bias:
        raise ValueError(
            f"{name} must have bias={mine.bias}, as this layer has (biases in its Linears and "
            f"LayerNorms or none), got bias={layer.linear1.bias is not None}"
        )
    if layer.linear1.in_features != mine.d_model:
        raise ValueError(f"{name} must have d_model={mine.d_model}, got {layer.linear1.in_features}")
    if layer.linear1.out_features != mine.feed_forward.d_ff:
        raise ValueError(
            f"{name} must have dim_feedforward={mine.feed_forward.d_ff}, got {layer.linear1.out_features}"
        )
    if bool(layer.norm_first) != mine.norm_first:
        raise ValueError(f"{name} must have norm_first={mine.norm_first}, got {layer.norm_first}")
    theirs = activation_name(layer.activation)
    if theirs != mine.feed_forward.activation:
        raise ValueError(
            f"{name} must use activation {mine.feed_forward.activation!r}, got {theirs}"
            f"{_hidden_activation(layer)}"
        )
    # load_state_dict copies a LayerNorm's weights, not its eps: another eps would compute other numbers.
    if layer.norm1.eps != mine.norm1.eps:
        raise ValueError(f"{name} must have layer_norm_eps={mine.norm1.eps:g}, got {layer.norm1.eps:g}")


def _hidden_activation(layer: nn.Module) -> str:
    """Why a PyTorch layer given an activation module may compute F.relu, or "": the copies that
    nn.TransformerDecoder (and so nn.Transformer) make of a decoder layer get ``activation =
    F.relu`` from its __setstate__, which hides the module it was given (still in ``_modules``)."""
    given = layer._modules.get("activation")
    if given is None or layer.__dict__.get("activation") is not F.relu:
        return ""
    return (
        f" (PyTorch's copy of a decoder layer given {given!r} computes F.relu: "
        "nn.TransformerDecoderLayer's __setstate__ hides the module; give PyTorch the activation "
        'as a string, activation="gelu", which its copies keep)'
    )


def activation_name(activation: object) -> str:
    """PyTorch's layer activation → lib's name: "relu" or "gelu" (given as a string, PyTorch
    keeps F.relu or F.gelu; given as a module, the module), else its repr for the message."""
    if activation is F.relu or activation is torch.relu or type(activation) is nn.ReLU:
        return "relu"
    if activation is F.gelu or (type(activation) is nn.GELU and activation.approximate == "none"):
        return "gelu"  # GELU(approximate="tanh") is another curve (GPT-2's): not this one
    return repr(activation)


def copy_parameters(mine: nn.Module, theirs: object, name: str) -> None:
    """Copy the weight (and bias) of ``theirs`` into ``mine``, an nn.Linear or nn.LayerNorm,
    refusing by name one of another kind, shape or bias (load_state_dict would fail inside)."""
    if not isinstance(mine, nn.Linear | nn.LayerNorm):
        got = type(mine).__name__
        raise ValueError(f"mine must be an nn.Linear or nn.LayerNorm (lib's, to copy into), got {got}")
    if any(p.is_meta for p in mine.parameters()):  # load_state_dict would only warn, copying nothing
        raise ValueError(
            "mine (the layer to copy into) is on the meta device, where nothing can be copied: "
            'give it memory first with .to_empty(device="cpu")'
        )
    want = {k: tuple(v.shape) for k, v in mine.state_dict().items()}
    got = type(theirs).__name__
    if isinstance(theirs, type(mine)):
        got = {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    if got != want:
        raise ValueError(f"{name} must be an nn.{type(mine).__name__} with parameters {want}, got {got}")
    if any(p.is_meta for p in theirs.parameters()):  # load_state_dict would copy nothing, or fail
        raise ValueError(f"{name} must hold weights to copy, got a module on the meta device")
    if getattr(theirs, "eps", None) != getattr(mine, "eps", None):  # a LayerNorm's eps is not copied
        raise ValueError(f"{name} must have eps={mine.eps:g}, as this layer's has, got {theirs.eps:g}")
    mine.load_state_dict(theirs.state_dict())
