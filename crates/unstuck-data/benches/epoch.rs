//! One shuffled epoch over an MNIST-sized dataset (60,000 x 784 `f32`, 188 MB) in
//! batches of 128, against two reference points measured on the same machine: the
//! shuffle alone, and one sequential copy of the whole feature buffer.
//!
//! Run with `cargo bench -p unstuck-data --bench epoch`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use unstuck_data::{BatchConfig, Batches, Dataset};

const N_ROWS: usize = 60_000;
const N_FEATURES: usize = 784;
const BATCH_SIZE: usize = 128;

fn mnist_sized() -> Dataset<f32> {
    let features = (0..N_ROWS * N_FEATURES)
        .map(|i| (i % 251) as f32 / 251.0)
        .collect();
    let labels = (0..N_ROWS).map(|row| row % 10).collect();
    Dataset::classification(features, N_FEATURES, labels, 10).expect("valid by construction")
}

fn epoch(c: &mut Criterion) {
    let data = mnist_sized();
    let bytes = (N_ROWS * N_FEATURES * size_of::<f32>()) as u64;
    let config = BatchConfig {
        batch_size: BATCH_SIZE,
        drop_last: false,
        shuffle: true,
        seed: 0,
    };
    let mut batches = Batches::new(&data, config).expect("batch size fits");

    let mut group = c.benchmark_group("epoch_60000x784_f32");
    group.sample_size(20);
    group.throughput(Throughput::Bytes(bytes));

    let mut epoch = 0;
    group.bench_function("shuffled_batches_128", |b| {
        b.iter(|| {
            batches.start_epoch(epoch);
            epoch += 1;
            let mut first_values = 0.0_f32;
            while let Some(batch) = batches.next_batch() {
                first_values += black_box(batch.features())[0];
            }
            first_values
        });
    });

    // The shuffle alone, in rows per second (bytes would be meaningless here).
    group.throughput(Throughput::Elements(N_ROWS as u64));
    group.bench_function("shuffle_only", |b| {
        b.iter(|| {
            batches.start_epoch(epoch);
            epoch += 1;
            black_box(batches.order()[0])
        });
    });

    // Reference: the same bytes copied once, sequentially, into a buffer already touched.
    group.throughput(Throughput::Bytes(bytes));
    let mut copy = vec![0.0_f32; N_ROWS * N_FEATURES];
    group.bench_function("one_sequential_copy", |b| {
        b.iter(|| {
            copy.copy_from_slice(black_box(data.features()));
            black_box(copy[0])
        });
    });
    group.finish();
}

criterion_group!(benches, epoch);
criterion_main!(benches);
