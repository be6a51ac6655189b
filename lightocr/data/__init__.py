"""Data: sources (LMDB, label files, image folders, synthetic lines and glyphs), the datasets with their skip
policy, and the DataModules of text recognition and image classification. Each name is imported on first use
(``lightocr._lazy``): the samples, sources and line geometry need neither torch nor Lightning."""
from .._lazy import lazy_attributes

__getattr__, __dir__ = lazy_attributes(__name__, {
    "ClassificationDataModule": ".classification", "DetectionDataModule": ".detection",
    "SyntheticPageSource": ".pages", "Icdar2015Source": ".page_labels",
    "PaddleDetectionLabelSource": ".page_labels", "GlyphSource": ".classification",
    "ImageFolderSource": ".classification", "TextRecognitionDataModule": ".recognition",
    "LineCollator": ".dataset", "TextLineDataset": ".dataset", "LineGeometry": ".geometry",
    "SKIP_KINDS": ".samples", "BadSampleError": ".samples", "SkippedSample": ".samples",
    "ImageFilesSource": ".sources", "LabelFileSource": ".sources", "LmdbSource": ".sources",
    "MixedSource": ".sources", "SampleSource": ".sources", "BUILTIN_FONT": ".synthetic",
    "SyntheticTextSource": ".synthetic", "find_fonts": ".synthetic", "default_augment": ".transforms",
    "resize_line": ".dataset",
})
