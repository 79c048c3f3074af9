"""Measuring what a translation keeps: class preservation, semantic distance, embedding neighbours, KID/FID."""
