"""Reading and writing results: lossless JSON payloads of results and models."""
