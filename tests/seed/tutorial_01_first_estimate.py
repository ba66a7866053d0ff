# Code cells of shared/seed/01_A_First_Estimate.txt, pasted unchanged (the API contract).
import neural_mi as nmi

# --- Dataset Parameters ---
n_samples = 5000
dim = 5
ground_truth_mi_bits = 2.0

# --- Generate Raw 2D Data ---
# This creates data of shape (n_samples, dim).
x_raw, y_raw = nmi.datasets.generate_correlated_gaussians(
    n_samples=n_samples, dim=dim, mi=ground_truth_mi_bits
)

# Transpose to the expected (n_channels, n_timepoints) format for the processor
x_raw_transposed = x_raw.T
y_raw_transposed = y_raw.T

print(f"Transposed X data shape: {x_raw_transposed.shape}")
print(f"Transposed Y data shape: {y_raw_transposed.shape}")

# The processor will treat each of the 5000 columns as an independent sample.
processor_params = {"window_size": 1}

# Basic model and training parameters
base_params = {
    "n_epochs": 50,
    "learning_rate": 5e-4,
    "batch_size": 128,
    "patience": 10,
    "embedding_dim": 16,
    "hidden_dim": 64,
    "n_layers": 2,
}

results = nmi.run(
    x_data=x_raw_transposed,
    y_data=y_raw_transposed,
    mode="estimate",
    processor_type="continuous",
    processor_params=processor_params,
    base_params=base_params,
    split_mode="random",  # For IID data
    output_units="bits",  # Specify the output units
    random_seed=42,  # For reproducibility
)

estimated_mi_bits = results.mi_estimate

print("\n--- Results ---")
print(f"Ground Truth MI:  {ground_truth_mi_bits:.3f} bits")
print(f"Estimated MI:     {estimated_mi_bits:.3f} bits")
print(f"Estimation Error: {abs(estimated_mi_bits - ground_truth_mi_bits):.3f} bits")
