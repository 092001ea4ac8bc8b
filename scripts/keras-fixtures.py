#!/usr/bin/env python3
"""Writes the Keras-format fixtures of test/fixtures/keras/ without Keras, and their expected outputs.

Each fixture is a directory with what tensorflowjs_converter writes for a Keras 2 model
(model.json with the Keras topology, class names, config keys and weight names, and one binary
shard "group1-shard1of1.bin" of little-endian float32 weights) plus expected.json: an input batch
and the model's outputs computed here with NumPy in float64 from the Keras 2 equations (an
independent computation: nothing of rnnlab is used).

  /usr/bin/python3 scripts/keras-fixtures.py        (needs numpy; seeded, so the files are stable)

Keras 2 equations (keras/layers/rnn/{simple_rnn,lstm,gru}.py), gate order of the fused matrices:
  LSTM i, f, c, o:  i = s(x Wi + h Ui + bi), f = ..., c' = f c + i tanh(x Wc + h Uc + bc), h = o tanh(c')
  GRU z, r, h, reset_after=True, bias [2, 3H] (input row, recurrent row):
      z = s(x Wz + bz + h Uz + b'z), r = s(x Wr + br + h Ur + b'r),
      hh = tanh(x Wh + bh + r * (h Uh + b'h)), h = z h_prev + (1 - z) hh
  A masked step (Embedding mask_zero: token 0) keeps the state. Bidirectional: the backward copy
  reads the reversed sequence; with return_sequences its outputs are reversed back; merge concat.
"""
import json
import os
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'keras')
rng = np.random.default_rng(20261201)


def w(*shape, scale=0.5):
    return rng.uniform(-scale, scale, size=shape).astype(np.float32)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def lstm_seq(x, mask, W, U, b, go_backwards=False):
    """x [B, T, F] -> outputs [B, T, H] (in reading order), final h."""
    B, T, _ = x.shape
    H = U.shape[0]
    h = np.zeros((B, H))
    c = np.zeros((B, H))
    outs = []
    steps = range(T - 1, -1, -1) if go_backwards else range(T)
    for t in steps:
        g = x[:, t] @ W + h @ U + b
        i, f, cc, o = sigmoid(g[:, :H]), sigmoid(g[:, H:2 * H]), np.tanh(g[:, 2 * H:3 * H]), sigmoid(g[:, 3 * H:])
        c_new = f * c + i * cc
        h_new = o * np.tanh(c_new)
        m = mask[:, t:t + 1] if mask is not None else 1.0
        h = m * h_new + (1 - m) * h
        c = m * c_new + (1 - m) * c
        outs.append(h)
    return np.stack(outs, 1), h


def gru_reset_after_seq(x, mask, W, U, b, go_backwards=False):
    B, T, _ = x.shape
    H = U.shape[0]
    h = np.zeros((B, H))
    outs = []
    steps = range(T - 1, -1, -1) if go_backwards else range(T)
    for t in steps:
        P = x[:, t] @ W + b[0]
        R = h @ U + b[1]
        z = sigmoid(P[:, :H] + R[:, :H])
        r = sigmoid(P[:, H:2 * H] + R[:, H:2 * H])
        hh = np.tanh(P[:, 2 * H:] + r * R[:, 2 * H:])
        h_new = z * h + (1 - z) * hh
        m = mask[:, t:t + 1] if mask is not None else 1.0
        h = m * h_new + (1 - m) * h
        outs.append(h)
    return np.stack(outs, 1), h


def initializer(name, **config):
    return {'class_name': name, 'config': config}


def rnn_config(kind, name, units, return_sequences, **extra):
    c = {
        'name': name, 'trainable': True, 'dtype': 'float32', 'return_sequences': return_sequences,
        'return_state': False, 'go_backwards': False, 'stateful': False, 'unroll': False, 'time_major': False,
        'units': units, 'activation': 'tanh',
    }
    if kind != 'SimpleRNN':
        c['recurrent_activation'] = 'sigmoid'
    c.update({
        'use_bias': True,
        'kernel_initializer': initializer('GlorotUniform', seed=None),
        'recurrent_initializer': initializer('Orthogonal', gain=1.0, seed=None),
        'bias_initializer': initializer('Zeros'),
    })
    if kind == 'LSTM':
        c['unit_forget_bias'] = True
    c.update({
        'kernel_regularizer': None, 'recurrent_regularizer': None, 'bias_regularizer': None,
        'activity_regularizer': None, 'kernel_constraint': None, 'recurrent_constraint': None,
        'bias_constraint': None, 'dropout': 0.0, 'recurrent_dropout': 0.0, 'implementation': 2,
    })
    if kind == 'GRU':
        c['reset_after'] = True
    c.update(extra)
    return {'class_name': kind, 'config': c}


def dense_config(name, units, activation):
    return {'class_name': 'Dense', 'config': {
        'name': name, 'trainable': True, 'dtype': 'float32', 'units': units, 'activation': activation,
        'use_bias': True, 'kernel_initializer': initializer('GlorotUniform', seed=None),
        'bias_initializer': initializer('Zeros'), 'kernel_regularizer': None, 'bias_regularizer': None,
        'activity_regularizer': None, 'kernel_constraint': None, 'bias_constraint': None}}


def write(name, model_config, weights, inputs, outputs, note, x_dtype='float32'):
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    blob = b''.join(np.ascontiguousarray(a, dtype='<f4').tobytes() for _, a in weights)
    with open(os.path.join(d, 'group1-shard1of1.bin'), 'wb') as f:
        f.write(blob)
    model = {
        'format': 'layers-model',
        'generatedBy': 'keras v2.13.1',
        'convertedBy': 'TensorFlow.js Converter v4.22.0',
        'modelTopology': {
            'keras_version': '2.13.1',
            'backend': 'tensorflow',
            'model_config': model_config,
            'training_config': {'loss': 'sparse_categorical_crossentropy', 'metrics': None, 'weighted_metrics': None,
                                'loss_weights': None, 'optimizer_config': {'class_name': 'Custom>Adam', 'config': {
                                    'name': 'Adam', 'learning_rate': 0.001, 'beta_1': 0.9, 'beta_2': 0.999,
                                    'epsilon': 1e-07, 'amsgrad': False}}},
        },
        'weightsManifest': [{'paths': ['group1-shard1of1.bin'],
                             'weights': [{'name': n, 'shape': list(a.shape), 'dtype': 'float32'} for n, a in weights]}],
    }
    with open(os.path.join(d, 'model.json'), 'w') as f:
        json.dump(model, f, indent=1)
        f.write('\n')
    with open(os.path.join(d, 'expected.json'), 'w') as f:
        json.dump({
            'note': note,
            'x': {'dtype': x_dtype, 'shape': list(inputs.shape), 'data': inputs.reshape(-1).tolist()},
            'output': {'shape': list(outputs.shape), 'data': [float(v) for v in outputs.reshape(-1)]},
        }, f, indent=1)
        f.write('\n')


def gru_reset_after():
    """Embedding(20, 6, mask_zero) -> GRU(8, reset_after) -> Dense(4, softmax), Sequential."""
    V, E, H, O = 20, 6, 8, 4
    emb, W, U, b, K, c = w(V, E), w(E, 3 * H), w(H, 3 * H), w(2, 3 * H), w(H, O), w(O)
    x = rng.integers(1, V, size=(3, 7))
    x[1, 5:] = 0  # padding: token 0, masked
    x[2, 3:] = 0
    mask = (x != 0).astype(np.float64)
    e = emb.astype(np.float64)[x]
    _, h = gru_reset_after_seq(e, mask, W.astype(np.float64), U.astype(np.float64), b.astype(np.float64))
    y = softmax(h @ K.astype(np.float64) + c)
    config = {'class_name': 'Sequential', 'config': {'name': 'sequential', 'layers': [
        {'class_name': 'InputLayer', 'config': {'batch_input_shape': [None, None], 'dtype': 'float32', 'sparse': False,
                                                'ragged': False, 'name': 'embedding_input'}},
        {'class_name': 'Embedding', 'config': {'name': 'embedding', 'trainable': True, 'batch_input_shape': [None, None],
                                               'dtype': 'float32', 'input_dim': V, 'output_dim': E,
                                               'embeddings_initializer': initializer('RandomUniform', minval=-0.05, maxval=0.05, seed=None),
                                               'embeddings_regularizer': None, 'activity_regularizer': None,
                                               'embeddings_constraint': None, 'mask_zero': True, 'input_length': None}},
        rnn_config('GRU', 'gru', H, False),
        dense_config('dense', O, 'softmax'),
    ]}}
    weights = [('embedding/embeddings', emb), ('gru/gru_cell/kernel', W), ('gru/gru_cell/recurrent_kernel', U),
               ('gru/gru_cell/bias', b), ('dense/kernel', K), ('dense/bias', c)]
    write('gru-reset-after', config, weights, x.astype(np.int32), y,
          'Embedding(mask_zero) -> GRU(reset_after=True) -> Dense(softmax); output = class probabilities [B, O]', 'int32')


def lstm_stack():
    """Functional: Input(None, 5) -> LSTM(8, seq) -> Dropout -> LSTM(8, seq) -> TimeDistributed(Dense(3))."""
    F, H, O = 5, 8, 3
    W1, U1, b1 = w(F, 4 * H), w(H, 4 * H), w(4 * H)
    W2, U2, b2 = w(H, 4 * H), w(H, 4 * H), w(4 * H)
    K, c = w(H, O), w(O)
    x = rng.normal(size=(2, 6, F)).astype(np.float32)
    f64 = lambda a: a.astype(np.float64)
    s1, _ = lstm_seq(f64(x), None, f64(W1), f64(U1), f64(b1))
    s2, _ = lstm_seq(s1, None, f64(W2), f64(U2), f64(b2))
    y = s2 @ f64(K) + f64(c)
    td = {'class_name': 'TimeDistributed', 'config': {'name': 'time_distributed', 'trainable': True, 'dtype': 'float32',
                                                      'layer': dense_config('dense', O, 'linear')}}
    layers = [
        {'class_name': 'InputLayer', 'config': {'batch_input_shape': [None, None, F], 'dtype': 'float32', 'sparse': False,
                                                'ragged': False, 'name': 'series'}, 'name': 'series', 'inbound_nodes': []},
        {**rnn_config('LSTM', 'lstm', H, True), 'name': 'lstm', 'inbound_nodes': [[['series', 0, 0, {}]]]},
        {'class_name': 'Dropout', 'config': {'name': 'dropout', 'trainable': True, 'dtype': 'float32', 'rate': 0.2,
                                             'noise_shape': None, 'seed': None}, 'name': 'dropout', 'inbound_nodes': [[['lstm', 0, 0, {}]]]},
        {**rnn_config('LSTM', 'lstm_1', H, True), 'name': 'lstm_1', 'inbound_nodes': [[['dropout', 0, 0, {}]]]},
        {**td, 'name': 'time_distributed', 'inbound_nodes': [[['lstm_1', 0, 0, {}]]]},
    ]
    config = {'class_name': 'Functional', 'config': {'name': 'model', 'trainable': True, 'layers': layers,
                                                     'input_layers': [['series', 0, 0]], 'output_layers': [['time_distributed', 0, 0]]}}
    weights = [('lstm/lstm_cell/kernel', W1), ('lstm/lstm_cell/recurrent_kernel', U1), ('lstm/lstm_cell/bias', b1),
               ('lstm_1/lstm_cell_1/kernel', W2), ('lstm_1/lstm_cell_1/recurrent_kernel', U2), ('lstm_1/lstm_cell_1/bias', b2),
               ('time_distributed/kernel', K), ('time_distributed/bias', c)]
    write('lstm-stack', config, weights, x, y, 'functional LSTM -> Dropout -> LSTM -> TimeDistributed(Dense, linear); output [B, T, O]')


def bilstm():
    """Sequential: Bidirectional(LSTM(6, seq)) -> Bidirectional(LSTM(6)) -> Dense(3, softmax), merge concat."""
    F, H, O = 4, 6, 3
    p = {k: (w(i, 4 * H), w(H, 4 * H), w(4 * H)) for k, i in [('f1', F), ('b1', F), ('f2', 2 * H), ('b2', 2 * H)]}
    K, c = w(2 * H, O), w(O)
    x = rng.normal(size=(3, 5, F)).astype(np.float32)
    f64 = lambda t: tuple(a.astype(np.float64) for a in t)
    xf = x.astype(np.float64)
    fw, _ = lstm_seq(xf, None, *f64(p['f1']))
    bw, _ = lstm_seq(xf, None, *f64(p['b1']), go_backwards=True)
    s1 = np.concatenate([fw, bw[:, ::-1]], axis=-1)  # the backward outputs back in time order
    _, hf = lstm_seq(s1, None, *f64(p['f2']))
    _, hb = lstm_seq(s1, None, *f64(p['b2']), go_backwards=True)
    y = softmax(np.concatenate([hf, hb], axis=-1) @ K.astype(np.float64) + c)

    def bi(name, inner, rs, first=False):
        cfg = {'name': name, 'trainable': True, 'dtype': 'float32', 'layer': rnn_config('LSTM', inner, H, rs), 'merge_mode': 'concat'}
        if first:
            cfg['batch_input_shape'] = [None, None, F]
        return {'class_name': 'Bidirectional', 'config': cfg}
    config = {'class_name': 'Sequential', 'config': {'name': 'sequential_1', 'layers': [
        {'class_name': 'InputLayer', 'config': {'batch_input_shape': [None, None, F], 'dtype': 'float32', 'sparse': False,
                                                'ragged': False, 'name': 'bidirectional_input'}},
        bi('bidirectional', 'lstm', True, True), bi('bidirectional_1', 'lstm_1', False), dense_config('dense', O, 'softmax')]}}
    weights = []
    for name, inner, cells, keys in [('bidirectional', 'lstm', ('lstm_cell_1', 'lstm_cell_2'), ('f1', 'b1')),
                                     ('bidirectional_1', 'lstm_1', ('lstm_cell_4', 'lstm_cell_5'), ('f2', 'b2'))]:
        for direction, cell, key in [('forward', cells[0], keys[0]), ('backward', cells[1], keys[1])]:
            for part, a in zip(('kernel', 'recurrent_kernel', 'bias'), p[key]):
                weights.append((f'{name}/{direction}_{inner}/{cell}/{part}', a))
    weights += [('dense/kernel', K), ('dense/bias', c)]
    write('bilstm', config, weights, x, y, 'Bidirectional(LSTM, seq) -> Bidirectional(LSTM) -> Dense(softmax), concat; output [B, O]')


if __name__ == '__main__':
    gru_reset_after()
    lstm_stack()
    bilstm()
    print('wrote', ', '.join(sorted(os.listdir(ROOT))), 'in', os.path.normpath(ROOT))
