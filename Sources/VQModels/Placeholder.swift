import VQLayers
