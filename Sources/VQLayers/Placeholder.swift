import VQEngine
