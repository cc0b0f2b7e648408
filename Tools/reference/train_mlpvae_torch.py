"""The PyTorch examples `vae` (MLPVAE 784-400-20), timed for the side-by-side wall-clock comparison with
`vqcodec train vae --arch mlp`.

Same settings as the Swift run: batch 128, Adam 1e-3, BCE(sum) + KL(sum) on grey-level targets, shuffled
each epoch, the last partial batch dropped (the Swift data order drops it; 96 of 60,000 images per epoch).
MNIST is read from the gzipped IDX files with gzip + numpy (no torchvision, no network).

    /tmp/refenv/bin/python Tools/reference/train_mlpvae_torch.py --data ../shared/data/mnist --epochs 10 --threads 2

Prints one line per epoch (train loss per image, test BCE+KL per image, seconds) and a final JSON line.
"""
import argparse
import gzip
import json
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def read_idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        return mu + torch.randn_like(std) * std

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="../shared/data/mnist")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    train = torch.from_numpy(read_idx(f"{a.data}/train-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255)
    test = torch.from_numpy(read_idx(f"{a.data}/t10k-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255)
    model = VAE()
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    steps = len(train) // a.batch
    total_train = 0.0
    history = []
    for epoch in range(1, a.epochs + 1):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(len(train))
        train_loss = 0.0
        for s in range(steps):
            x = train[order[s * a.batch:(s + 1) * a.batch]]
            opt.zero_grad()
            recon, mu, logvar = model(x)
            loss = loss_function(recon, x, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            opt.step()
        seconds = time.perf_counter() - start
        total_train += seconds
        model.eval()
        test_loss = 0.0
        with torch.no_grad():
            for s in range(0, len(test), a.batch):
                x = test[s:s + a.batch]
                recon, mu, logvar = model(x)
                test_loss += loss_function(recon, x, mu, logvar).item()
        test_loss /= len(test)
        history.append(test_loss)
        print(f"epoch {epoch}: train {train_loss / (steps * a.batch):.2f} test {test_loss:.2f} nats/image, "
              f"{seconds:.1f} s ({steps * a.batch / seconds:.0f} img/s)", flush=True)
    print(json.dumps({"framework": f"torch {torch.__version__}", "threads": a.threads, "epochs": a.epochs,
                      "train_seconds": round(total_train, 2), "test_loss": round(history[-1], 3)}))


if __name__ == "__main__":
    main()
