import VQModels
