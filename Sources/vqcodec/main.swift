print("vqcodec")
