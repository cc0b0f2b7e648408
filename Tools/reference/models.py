"""PyTorch mirrors of the three reference architectures (docs: MISSION.md, "Reference architectures").

Each class has exactly the `state_dict` of its Swift counterpart in `Sources/VQModels/` (same names, shapes and
layouts), so a Swift checkpoint's tensors load with `load_state_dict(strict=True)` and the other way round.
The losses compute what the Swift `loss` functions compute, term for term and with the same term names:

    MLPVAE.loss_terms(x, eps)       -> total, {"reconstruction": BCE(sum), "kl": KL(sum)}
    ConvVQVAE.loss_terms(x)         -> total, {"reconstruction": mse(mean), "codebook": ..., "commitment": ...}
    TokenPrior.loss_terms(tokens)   -> total, {"cross_entropy": mean nats per token}

Configurations use the Swift `Configuration` field names (camelCase) through `build_model(kind, config)`, so a
checkpoint's stored config rebuilds the same model here. Importable; no side effects.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "MLPVAE", "VectorQuantizer", "ConvVQVAE", "CausalSelfAttention", "TransformerBlock", "TokenPrior",
    "MODEL_KINDS", "build_model", "swift_config",
]


# ---------------------------------------------------------------------------------------------------------------
# MLPVAE ("mlp-vae"): the PyTorch examples `vae`.

class MLPVAE(nn.Module):
    """x -> fc1 -> ReLU -> (fc21 = mu, fc22 = logvar); z = mu + exp(logvar / 2) * eps; z -> fc3 -> ReLU -> fc4 ->
    sigmoid. PyTorch default initialisation."""

    kind = "mlp-vae"

    def __init__(self, input_size=784, hidden_size=400, latent_size=20):
        super().__init__()
        self.input_size, self.hidden_size, self.latent_size = input_size, hidden_size, latent_size
        self.fc1 = nn.Linear(input_size, hidden_size)
        self.fc21 = nn.Linear(hidden_size, latent_size)
        self.fc22 = nn.Linear(hidden_size, latent_size)
        self.fc3 = nn.Linear(latent_size, hidden_size)
        self.fc4 = nn.Linear(hidden_size, input_size)

    def config(self):
        return {"inputSize": self.input_size, "hiddenSize": self.hidden_size, "latentSize": self.latent_size}

    def encode(self, x):
        """Posterior mean and log-variance for images flattened to [B, input_size]."""
        h = F.relu(self.fc1(x))
        return self.fc21(h), self.fc22(h)

    @staticmethod
    def reparameterize(mu, logvar, eps):
        return mu + torch.exp(0.5 * logvar) * eps

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    @staticmethod
    def kl_divergence(mu, logvar):
        return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())

    def forward(self, x, eps=None):
        """Returns (reconstruction [B, input_size], mu, logvar); eps ~ N(0, I) is drawn when not given."""
        mu, logvar = self.encode(x.reshape(-1, self.input_size))
        if eps is None:
            eps = torch.randn_like(mu)
        return self.decode(self.reparameterize(mu, logvar, eps)), mu, logvar

    def loss_terms(self, x, eps):
        """Negative ELBO summed over the batch: BCE(sum) + KL(sum), with the given noise eps [B, latent_size]."""
        flat = x.reshape(-1, self.input_size)
        recon, mu, logvar = self.forward(flat, eps)
        reconstruction = F.binary_cross_entropy(recon, flat, reduction="sum")
        kl = self.kl_divergence(mu, logvar)
        return reconstruction + kl, {"reconstruction": reconstruction, "kl": kl}


# ---------------------------------------------------------------------------------------------------------------
# ConvVQVAE ("conv-vqvae").

class VectorQuantizer(nn.Module):
    """Nearest-code quantisation with a [codes, dimension] codebook initialised U(-1/codes, 1/codes).

    Distances ||z||^2 - 2 z.e + ||e||^2, argmin (ties to the lowest index), codebook loss mse(z_q, sg[z_e]),
    commitment loss mse(z_e, sg[z_q]), straight-through output z_e + sg[z_q - z_e]."""

    def __init__(self, codes=512, dimension=64):
        super().__init__()
        self.codes, self.dimension = codes, dimension
        self.codebook = nn.Parameter(torch.empty(codes, dimension).uniform_(-1.0 / codes, 1.0 / codes))

    def distances(self, flat):
        """Squared distances [N, codes] of vectors [N, dimension] to every code."""
        e = self.codebook
        return flat.pow(2).sum(1, keepdim=True) - 2 * flat @ e.t() + e.pow(2).sum(1)

    def nearest_codes(self, flat):
        with torch.no_grad():
            return torch.argmin(self.distances(flat.detach()), dim=1)

    def lookup(self, indices):
        """Codebook rows for indices [B, H, W], as NCHW [B, dimension, H, W]."""
        return self.codebook[indices].permute(0, 3, 1, 2)

    def forward(self, z_e):
        """z_e [B, D, H, W] -> (straight-through z_q [B, D, H, W], indices [B, H, W] int64, codebook loss,
        commitment loss)."""
        b, d, h, w = z_e.shape
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, d)
        indices = self.nearest_codes(flat).reshape(b, h, w)
        z_q = self.lookup(indices)
        codebook_loss = F.mse_loss(z_q, z_e.detach())
        commitment_loss = F.mse_loss(z_e, z_q.detach())
        straight_through = z_e + (z_q - z_e).detach()
        return straight_through, indices, codebook_loss, commitment_loss


class ConvVQVAE(nn.Module):
    """28x28 -> Conv(k4 s2 p1) ReLU -> Conv(k4 s2 p1) ReLU -> Conv(k3 s1 p1) -> 7x7xD -> VQ -> ConvT(k3 s1 p1) ReLU ->
    ConvT(k4 s2 p1) ReLU -> ConvT(k4 s2 p1) -> sigmoid. Loss mse(mean) + codebook + beta * commitment."""

    kind = "conv-vqvae"

    def __init__(self, channels=1, hidden_channels=32, latent_channels=64, codes=512, commitment_weight=0.25):
        super().__init__()
        self.channels, self.hidden_channels, self.latent_channels = channels, hidden_channels, latent_channels
        self.codes, self.commitment_weight = codes, commitment_weight
        self.enc1 = nn.Conv2d(channels, hidden_channels, 4, stride=2, padding=1)
        self.enc2 = nn.Conv2d(hidden_channels, latent_channels, 4, stride=2, padding=1)
        self.enc3 = nn.Conv2d(latent_channels, latent_channels, 3, stride=1, padding=1)
        self.vq = VectorQuantizer(codes, latent_channels)
        self.dec1 = nn.ConvTranspose2d(latent_channels, latent_channels, 3, stride=1, padding=1)
        self.dec2 = nn.ConvTranspose2d(latent_channels, hidden_channels, 4, stride=2, padding=1)
        self.dec3 = nn.ConvTranspose2d(hidden_channels, channels, 4, stride=2, padding=1)

    def config(self):
        return {"channels": self.channels, "hiddenChannels": self.hidden_channels,
                "latentChannels": self.latent_channels, "codes": self.codes,
                "commitmentWeight": self.commitment_weight}

    def encode(self, x):
        """z_e [B, latent_channels, H/4, W/4] for images [B, C, H, W] in [0, 1]."""
        return self.enc3(F.relu(self.enc2(F.relu(self.enc1(x)))))

    def decode(self, z):
        return torch.sigmoid(self.dec3(F.relu(self.dec2(F.relu(self.dec1(z))))))

    def forward(self, x):
        """Returns (reconstruction, indices [B, H/4, W/4], codebook loss, commitment loss, z_e)."""
        z_e = self.encode(x)
        z_q, indices, codebook_loss, commitment_loss = self.vq(z_e)
        return self.decode(z_q), indices, codebook_loss, commitment_loss, z_e

    def loss_terms(self, x):
        recon, _, codebook_loss, commitment_loss, _ = self.forward(x)
        mse = F.mse_loss(recon, x)
        total = mse + codebook_loss + commitment_loss * self.commitment_weight
        return total, {"reconstruction": mse, "codebook": codebook_loss, "commitment": commitment_loss}


# ---------------------------------------------------------------------------------------------------------------
# TokenPrior ("token-prior"): a small pre-LN causal transformer.

class CausalSelfAttention(nn.Module):
    """Fused qkv projection ordered [q | k | v]; softmax(mask(q k^T / sqrt(head size))) v; proj. Written out by
    hand (no scaled_dot_product_attention) so every step is the one the Swift layer takes."""

    def __init__(self, dimension, heads):
        super().__init__()
        assert dimension % heads == 0, f"dimension {dimension} is not divisible by {heads} heads"
        self.heads = heads
        self.qkv = nn.Linear(dimension, 3 * dimension)
        self.proj = nn.Linear(dimension, dimension)

    def forward(self, x):
        b, t, c = x.shape
        hs = c // self.heads
        q, k, v = self.qkv(x).split(c, dim=2)
        q, k, v = (m.reshape(b, t, self.heads, hs).permute(0, 2, 1, 3) for m in (q, k, v))
        scores = q @ k.transpose(-2, -1) / math.sqrt(hs)
        mask = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
        attention = torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1)
        return self.proj((attention @ v).permute(0, 2, 1, 3).reshape(b, t, c))


class TransformerBlock(nn.Module):
    """x + attn(ln1(x)), then x + fc2(gelu(fc1(ln2(x)))) with exact (erf) GELU."""

    def __init__(self, dimension, heads, hidden_size):
        super().__init__()
        self.ln1 = nn.LayerNorm(dimension, eps=1e-5)
        self.attn = CausalSelfAttention(dimension, heads)
        self.ln2 = nn.LayerNorm(dimension, eps=1e-5)
        self.fc1 = nn.Linear(dimension, hidden_size)
        self.fc2 = nn.Linear(hidden_size, dimension)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class TokenPrior(nn.Module):
    """Token embedding (vocabulary + 1 rows; the last is BOS) + learned positions `pos_emb` [sequence_length,
    dimension] (a bare parameter), pre-LN blocks, final LayerNorm, head to the vocabulary. Input
    [BOS, t0 .. t(n-2)] predicts [t0 .. t(n-1)]. Init: Linear, embedding and pos_emb N(0, 0.02), biases 0."""

    kind = "token-prior"

    def __init__(self, vocabulary=512, sequence_length=49, dimension=128, heads=4, layers=2, hidden_size=512):
        super().__init__()
        self.vocabulary, self.sequence_length, self.dimension = vocabulary, sequence_length, dimension
        self.heads, self.layers, self.hidden_size = heads, layers, hidden_size
        self.tok_emb = nn.Embedding(vocabulary + 1, dimension)
        self.pos_emb = nn.Parameter(torch.zeros(sequence_length, dimension))
        self.blocks = nn.ModuleList(TransformerBlock(dimension, heads, hidden_size) for _ in range(layers))
        self.ln_f = nn.LayerNorm(dimension, eps=1e-5)
        self.head = nn.Linear(dimension, vocabulary)
        self.apply(self._init_weights)
        nn.init.normal_(self.pos_emb, std=0.02)

    @staticmethod
    def _init_weights(module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    def config(self):
        return {"vocabulary": self.vocabulary, "sequenceLength": self.sequence_length, "dimension": self.dimension,
                "heads": self.heads, "layers": self.layers, "hiddenSize": self.hidden_size}

    @property
    def begin_token(self):
        return self.vocabulary

    def forward(self, inputs):
        """Logits [B, T, vocabulary] for input tokens [B, T] (int64), T <= sequence_length."""
        t = inputs.shape[1]
        assert t <= self.sequence_length, f"{t} tokens exceed the sequence length {self.sequence_length}"
        x = self.tok_emb(inputs) + self.pos_emb[:t]
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))

    def shifted_inputs(self, tokens):
        """BOS followed by all but the last token, for tokens [B, n]."""
        bos = torch.full((tokens.shape[0], 1), self.begin_token, dtype=tokens.dtype, device=tokens.device)
        return torch.cat([bos, tokens[:, :-1]], dim=1)

    def loss_terms(self, tokens):
        """Mean cross-entropy (nats per token) of predicting tokens [B, sequence_length]."""
        logits = self.forward(self.shifted_inputs(tokens))
        ce = F.cross_entropy(logits.reshape(-1, self.vocabulary), tokens.reshape(-1))
        return ce, {"cross_entropy": ce}


# ---------------------------------------------------------------------------------------------------------------
# Building from a Swift-style (camelCase) configuration, as stored in checkpoints.

MODEL_KINDS = {MLPVAE.kind: MLPVAE, ConvVQVAE.kind: ConvVQVAE, TokenPrior.kind: TokenPrior}

_ARGUMENTS = {
    "mlp-vae": {"inputSize": "input_size", "hiddenSize": "hidden_size", "latentSize": "latent_size"},
    "conv-vqvae": {"channels": "channels", "hiddenChannels": "hidden_channels", "latentChannels": "latent_channels",
                   "codes": "codes", "commitmentWeight": "commitment_weight"},
    "token-prior": {"vocabulary": "vocabulary", "sequenceLength": "sequence_length", "dimension": "dimension",
                    "heads": "heads", "layers": "layers", "hiddenSize": "hidden_size"},
}

_REFERENCE_ONLY = {
    "mlp-vae": {"classes": 0, "likelihood": "bernoulli"},
    "conv-vqvae": {"quantizer": None},
}


def build_model(kind, config=None):
    """A freshly initialised model of `kind` ("mlp-vae", "conv-vqvae", "token-prior") with a configuration
    given by Swift field names (missing fields take the defaults; unknown ones are an error)."""
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; known: {', '.join(sorted(MODEL_KINDS))}")
    names = _ARGUMENTS[kind]
    config = dict(config or {})
    # Swift configurations may carry options beyond the reference architecture (a class-conditional or Gaussian
    # MLPVAE, other quantisers); the mirrors are the references only, so those options must hold reference values.
    for field, reference in _REFERENCE_ONLY.get(kind, {}).items():
        if field in config:
            value = config.pop(field)
            if value != reference:
                raise ValueError(f"{kind}: {field}={value!r} is not the reference architecture ({field}={reference!r}); "
                                 f"the PyTorch mirror covers the reference only")
    if kind == MLPVAE.kind:
        config.pop("outputVariance", None)  # the Gaussian likelihood's variance; unused with Bernoulli pixels
    unknown = sorted(set(config) - set(names))
    if unknown:
        raise ValueError(f"{kind}: unknown configuration fields {unknown}; known: {sorted(names)}")
    return MODEL_KINDS[kind](**{names[k]: v for k, v in config.items()})


def swift_config(model):
    """The model's configuration with Swift field names (what `build_model` takes back)."""
    return model.config()
