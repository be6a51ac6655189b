"""Text detection: DB (Liao et al., "Real-time Scene Text Detection with Differentiable Binarization", AAAI 2020)
over an FPN on a backbone's feature pyramid. The network (``model``), its training targets (``targets``), loss
(``loss``) and post-processing (``postprocess``); the task and its registration come with the page data."""
