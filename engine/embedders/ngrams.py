"""Hashed word + character n-gram TF-IDF block (effort ``max``), in plain numpy.

Terms are lowercase word unigrams and the character 3- to 5-grams of each space-padded word,
hashed with crc32 (stable across processes, unlike ``hash``) into ``TFIDF_DIM`` buckets. Term
frequency is sublinear (1 + log tf); idf = log((1 + N)/(1 + df)) + 1 over the model's training
texts; each vector is L2-normalised. The block is appended to a sample's (centred) embedding with
weight ``TFIDF_WEIGHT`` and the concatenation renormalised.
"""

from __future__ import annotations

import re
import zlib

import numpy as np

TFIDF_DIM = 512
TFIDF_WEIGHT = 0.5
_WORD = re.compile(r"\w+", re.UNICODE)
_CHAR_NGRAMS = (3, 4, 5)


def term_counts(text: str, dim: int = TFIDF_DIM) -> np.ndarray:
    counts = np.zeros(dim, dtype=np.float64)
    for word in _WORD.findall(text.lower()):
        counts[zlib.crc32(("w:" + word).encode("utf-8")) % dim] += 1.0
        padded = f" {word} "
        for n in _CHAR_NGRAMS:
            for i in range(len(padded) - n + 1):
                counts[zlib.crc32(("c:" + padded[i:i + n]).encode("utf-8")) % dim] += 1.0
    return counts


def fit_idf(texts: list[str], dim: int = TFIDF_DIM) -> np.ndarray:
    document_frequency = np.zeros(dim, dtype=np.float64)
    for text in texts:
        document_frequency += term_counts(text, dim) > 0
    return np.log((1.0 + len(texts)) / (1.0 + document_frequency)) + 1.0


def tfidf_vectors(texts: list[str], idf: np.ndarray) -> np.ndarray:
    out = np.zeros((len(texts), idf.size), dtype=np.float64)
    for row, text in enumerate(texts):
        counts = term_counts(text, idf.size)
        tf = np.where(counts > 0, 1.0 + np.log(np.maximum(counts, 1.0)), 0.0)
        vector = tf * idf
        norm = float(np.sqrt(np.sum(vector * vector)))
        if norm > 0:
            out[row] = vector / norm
    return out
