"""Text recognition's parts: charset, backbone adapter, necks, CTC head/loss/decoding, CRNN, metrics. Each name
is imported on first use (``lightocr._lazy``): the charset and the CTC decoding need no torch."""
from .._lazy import lazy_attributes

__getattr__, __dir__ = lazy_attributes(__name__, {
    "PRESETS": ".charset", "Charset": ".charset", "UnknownSymbolError": ".charset",
    "CTCHead": ".ctc", "CTCLoss": ".ctc", "LabelTooLongError": ".ctc", "CTCDecoder": ".decode",
    "BackboneEncoder": ".encoder", "text_line_strides": ".encoder", "CharErrorRate": ".metrics",
    "NormalizedEditDistance": ".metrics", "WordAccuracy": ".metrics", "CRNN": ".model", "build_neck": ".neck",
})
