"""Text-line data: sources (LMDB, label files, synthetic), the dataset with its skip policy, the DataModule."""
from .datamodule import ImageFilesSource, TextRecognitionDataModule
from .dataset import BadSampleError, SkippedSample, TextLineDataset
from .sources import LabelFileSource, LmdbSource, MixedSource, TextSource
from .synthetic import BUILTIN_FONT, SyntheticTextSource, find_fonts
from .transforms import LineCollator, resize_line

__all__ = ["BUILTIN_FONT", "BadSampleError", "ImageFilesSource", "LabelFileSource", "LineCollator", "LmdbSource",
           "MixedSource", "SkippedSample", "SyntheticTextSource", "TextLineDataset", "TextRecognitionDataModule",
           "TextSource", "find_fonts", "resize_line"]
