module dengine.dev/dengine

go 1.23
