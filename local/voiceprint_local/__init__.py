"""The local stack: moto server, a pyannoteAI emulator and a local API Gateway around the unchanged handlers."""
