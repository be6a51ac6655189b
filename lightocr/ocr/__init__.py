"""Text recognition: charset, backbone adapter, necks, CTC head/loss/decoding, CRNN, metrics."""
from .charset import PRESETS, Charset, UnknownSymbolError
from .ctc import CTCDecoder, CTCHead, CTCLoss, LabelTooLongError, Prediction
from .encoder import BackboneEncoder, text_line_strides
from .metrics import CharErrorRate, NormalizedEditDistance, WordAccuracy
from .model import CRNN
from .neck import build_neck

__all__ = ["PRESETS", "BackboneEncoder", "CRNN", "CTCDecoder", "CTCHead", "CTCLoss",
           "CharErrorRate", "Charset", "LabelTooLongError", "NormalizedEditDistance", "Prediction",
           "UnknownSymbolError", "WordAccuracy", "build_neck", "text_line_strides"]
