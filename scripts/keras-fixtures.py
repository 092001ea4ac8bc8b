#!/usr/bin/env python3
"""Writes the Keras-format fixtures of test/fixtures/keras/ without Keras, and their expected outputs.

Each fixture is a directory holding one model in the files people have, each following the layout
Keras and tensorflowjs_converter write (read from their sources: keras/src/saving/saving_lib.py and
keras/src/legacy/saving/legacy_h5_format.py, keras/saving/legacy/hdf5_format.py of Keras 2):
  model.json + group1-shard1of1.bin   tensorflowjs_converter's output for a Keras 2 model: the Keras
      topology, class names, config keys and weight names, little-endian float32 weights;
  model.h5      Keras 2's model.save("model.h5"): root attributes model_config, training_config,
      keras_version, backend; group model_weights (attribute layer_names), one group per layer with
      attribute weight_names ("gru/gru_cell/kernel:0") and a dataset at each of those paths;
  model.keras   Keras 3's model.save("model.keras"): a zip (stored, not compressed) of metadata.json,
      config.json (module / class_name / config / registered_name records, dtype policies,
      batch_shape, compile_config with the loss) and model.weights.h5, where each layer's variables
      sit at layers/<class in snake case>[_n]/vars/<i> (a recurrent layer's under cell/, a
      Bidirectional's under forward_layer/cell/ and backward_layer/cell/, a TimeDistributed's under
      layer/), every saveable with its (possibly empty) vars group, and optimizer/vars beside them;
plus expected.json: an input batch and the model's outputs computed here with NumPy in float64 from
the Keras equations (an independent computation: nothing of rnnlab is used).

  /usr/bin/python3 scripts/keras-fixtures.py        (needs numpy and h5py: Debian's python3-numpy,
                                                     python3-h5py; seeded, so the files are stable)

Keras equations (keras/layers/rnn/{simple_rnn,lstm,gru}.py), gate order of the fused matrices:
  LSTM i, f, c, o:  i = s(x Wi + h Ui + bi), f = ..., c' = f c + i tanh(x Wc + h Uc + bc), h = o tanh(c')
  GRU z, r, h, reset_after=True, bias [2, 3H] (input row, recurrent row):
      z = s(x Wz + bz + h Uz + b'z), r = s(x Wr + br + h Ur + b'r),
      hh = tanh(x Wh + bh + r * (h Uh + b'h)), h = z h_prev + (1 - z) hh
  A masked step (Embedding mask_zero: token 0) keeps the state. Bidirectional: the backward copy
  reads the reversed sequence; with return_sequences its outputs are reversed back; merge concat.
"""
import io
import json
import os
import zipfile

import h5py
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


def training_config(loss):
    """What Keras 2 writes (and tensorflowjs_converter copies into modelTopology) for a compiled model."""
    return {'loss': loss, 'metrics': None, 'weighted_metrics': None, 'loss_weights': None,
            'optimizer_config': {'class_name': 'Custom>Adam', 'config': {
                'name': 'Adam', 'learning_rate': 0.001, 'beta_1': 0.9, 'beta_2': 0.999, 'epsilon': 1e-07, 'amsgrad': False}}}


def write(name, model_config, weights, inputs, outputs, note, x_dtype='float32', loss='sparse_categorical_crossentropy',
          formats=('json',), keras3=None):
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    if 'json' in formats:
        write_model_json(d, model_config, weights, loss)
    if 'h5' in formats:
        write_h5(os.path.join(d, 'model.h5'), model_config, weights, loss)
    if keras3 is not None:
        write_keras(os.path.join(d, 'model.keras'), *keras3)
    with open(os.path.join(d, 'expected.json'), 'w') as f:
        json.dump({
            'note': note,
            'x': {'dtype': x_dtype, 'shape': list(inputs.shape), 'data': inputs.reshape(-1).tolist()},
            'output': {'shape': list(outputs.shape), 'data': [float(v) for v in outputs.reshape(-1)]},
        }, f, indent=1)
        f.write('\n')


def write_model_json(d, model_config, weights, loss):
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
            'training_config': training_config(loss),
        },
        'weightsManifest': [{'paths': ['group1-shard1of1.bin'],
                             'weights': [{'name': n, 'shape': list(a.shape), 'dtype': 'float32'} for n, a in weights]}],
    }
    with open(os.path.join(d, 'model.json'), 'w') as f:
        json.dump(model, f, indent=1)
        f.write('\n')


def write_h5(path, model_config, weights, loss):
    """Keras 2's save_model_to_hdf5: metadata attributes, then save_weights_to_hdf5_group(model_weights)."""
    layers = model_config['config']['layers']
    # Sequential.layers leaves out the InputLayer; a functional model's layers include it
    names = [l['config']['name'] for l in layers if model_config['class_name'] != 'Sequential' or l['class_name'] != 'InputLayer']
    with h5py.File(path, 'w') as f:
        f.attrs['keras_version'] = '2.13.1'
        f.attrs['backend'] = 'tensorflow'
        f.attrs['model_config'] = json.dumps(model_config).encode('utf8')
        f.attrs['training_config'] = json.dumps(training_config(loss)).encode('utf8')
        g = f.create_group('model_weights')
        g.attrs['layer_names'] = np.asarray([n.encode('utf8') for n in names])
        g.attrs['backend'] = b'tensorflow'
        g.attrs['keras_version'] = b'2.13.1'
        for layer in sorted(names):
            lg = g.create_group(layer)
            own = [(n + ':0', a) for n, a in weights if n.split('/')[0] == layer]
            lg.attrs['weight_names'] = np.asarray([n.encode('utf8') for n, _ in own])
            for n, a in own:
                lg.create_dataset(n, data=np.asarray(a, dtype='<f4'))
        top = g.create_group('top_level_model_weights')
        top.attrs['weight_names'] = np.asarray([])


def k3(class_name, config, module='keras.layers', **extra):
    """A Keras 3 serialized object: serialization_lib.serialize_keras_object."""
    return {'module': module, 'class_name': class_name, 'config': config, 'registered_name': None, **extra}


def k3_dtype(name='float32'):
    return k3('DTypePolicy', {'name': name}, module='keras')


def k3_init(name, **config):
    return k3(name, config, module='keras.initializers')


def k3_rnn(kind, name, units, return_sequences, input_shape, **extra):
    c = {'name': name, 'trainable': True, 'dtype': k3_dtype(), 'return_sequences': return_sequences,
         'return_state': False, 'go_backwards': False, 'stateful': False, 'unroll': False, 'zero_output_for_mask': False,
         'units': units, 'activation': 'tanh'}
    if kind != 'SimpleRNN':
        c['recurrent_activation'] = 'sigmoid'
    c.update({'use_bias': True, 'kernel_initializer': k3_init('GlorotUniform', seed=None),
              'recurrent_initializer': k3_init('OrthogonalInitializer', gain=1.0, seed=None),
              'bias_initializer': k3_init('Zeros')})
    if kind == 'LSTM':
        c['unit_forget_bias'] = True
    c.update({'kernel_regularizer': None, 'recurrent_regularizer': None, 'bias_regularizer': None,
              'activity_regularizer': None, 'kernel_constraint': None, 'recurrent_constraint': None,
              'bias_constraint': None, 'dropout': 0.0, 'recurrent_dropout': 0.0, 'seed': None})
    if kind == 'GRU':
        c['reset_after'] = True
    c.update(extra)
    return k3(kind, c, build_config={'input_shape': input_shape})


def k3_dense(name, units, activation, input_shape):
    return k3('Dense', {'name': name, 'trainable': True, 'dtype': k3_dtype(), 'units': units, 'activation': activation,
                        'use_bias': True, 'kernel_initializer': k3_init('GlorotUniform', seed=None),
                        'bias_initializer': k3_init('Zeros'), 'kernel_regularizer': None, 'bias_regularizer': None,
                        'kernel_constraint': None, 'bias_constraint': None}, build_config={'input_shape': input_shape})


def k3_input(name, batch_shape, dtype='float32'):
    return k3('InputLayer', {'batch_shape': batch_shape, 'dtype': dtype, 'sparse': False, 'name': name})


def k3_tensor(layer, shape, dtype='float32'):
    return {'class_name': '__keras_tensor__', 'config': {'shape': shape, 'dtype': dtype, 'keras_history': [layer, 0, 0]}}


def k3_model(class_name, config, loss):
    compile_config = {'optimizer': k3('Adam', {'name': 'adam', 'learning_rate': 0.001, 'weight_decay': None, 'clipnorm': None,
                                               'global_clipnorm': None, 'clipvalue': None, 'use_ema': False,
                                               'beta_1': 0.9, 'beta_2': 0.999, 'epsilon': 1e-07, 'amsgrad': False},
                                      module='keras.optimizers'),
                      'loss': loss, 'loss_weights': None, 'metrics': None, 'weighted_metrics': None,
                      'run_eagerly': False, 'steps_per_execution': 1, 'jit_compile': False}
    return {'module': 'keras', 'class_name': class_name, 'config': config, 'registered_name': None,
            'build_config': {'input_shape': None}, 'compile_config': compile_config}


def write_keras(path, config, store):
    """saving_lib._save_model_to_fileobj: metadata.json, config.json, then model.weights.h5 from H5IOStore."""
    bio = io.BytesIO()
    with h5py.File(bio, 'w') as h5:
        for group in store['groups']:
            h5.require_group(group)
        for where, a in store['vars']:
            h5.create_dataset(where, data=a)
    # a fixed time stamp on each member, so that the file is the same on every run of this script
    member = lambda name: zipfile.ZipInfo(name, date_time=(2026, 12, 7, 10, 0, 0))  # noqa: E731
    with zipfile.ZipFile(path, 'w') as zf:
        zf.writestr(member('metadata.json'), json.dumps({'keras_version': '3.6.0', 'date_saved': '2026-12-07@10:00:00'}))
        zf.writestr(member('config.json'), json.dumps(config))
        zf.writestr(member('model.weights.h5'), bio.getvalue())


def k3_store(layers, extra_groups=()):
    """H5IOStore's groups and datasets: layers is [(store path, [(sub path, [arrays])])]; every saveable gets a vars group."""
    groups = ['vars', 'optimizer/vars'] + list(extra_groups)
    found = []
    for where, parts in layers:
        groups.append(where + '/vars')
        for sub, arrays in parts:
            groups.append(f'{where}/{sub}vars')
            for i, a in enumerate(arrays):
                found.append((f'{where}/{sub}vars/{i}', np.asarray(a, dtype='<f4')))
    # the optimizer's state beside the layers (iterations, learning rate): not part of the model
    found += [('optimizer/vars/0', np.asarray(3, dtype='<i8')), ('optimizer/vars/1', np.asarray(0.001, dtype='<f4'))]
    return {'groups': groups, 'vars': found}


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
    # its vocabulary (token i on line i of a JSON array: padding, <unk>, 18 words), for the README's import --vocab
    vocab = ['<pad>', '<unk>'] + 'calm dark bright loud quiet warm cold sharp soft bold plain rich thin deep light fast slow odd'.split()
    os.makedirs(os.path.join(ROOT, 'gru-reset-after'), exist_ok=True)
    with open(os.path.join(ROOT, 'gru-reset-after', 'vocab.json'), 'w') as f:
        f.write(json.dumps(vocab) + '\n')
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
    # Keras 3: the same functional model as config.json records it, and its weights at their store paths
    # (Functional.layers holds the InputLayer too: layers/input_layer, layers/lstm, layers/dropout, layers/lstm_1, ...)
    shp = [None, None, F]
    k3_layers = [
        {**k3_input('series', shp), 'name': 'series', 'inbound_nodes': []},
        {**k3_rnn('LSTM', 'lstm', H, True, shp), 'name': 'lstm', 'inbound_nodes': [{'args': [k3_tensor('series', shp)], 'kwargs': {'training': False, 'mask': None}}]},
        {**k3('Dropout', {'name': 'dropout', 'trainable': True, 'dtype': k3_dtype(), 'rate': 0.2, 'seed': None, 'noise_shape': None}),
         'name': 'dropout', 'inbound_nodes': [{'args': [k3_tensor('lstm', [None, None, H])], 'kwargs': {'training': False}}]},
        {**k3_rnn('LSTM', 'lstm_1', H, True, [None, None, H]), 'name': 'lstm_1',
         'inbound_nodes': [{'args': [k3_tensor('dropout', [None, None, H])], 'kwargs': {'training': False, 'mask': None}}]},
        {**k3('TimeDistributed', {'name': 'time_distributed', 'trainable': True, 'dtype': k3_dtype(),
                                  'layer': k3_dense('dense', O, 'linear', [None, H])}, build_config={'input_shape': [None, None, H]}),
         'name': 'time_distributed', 'inbound_nodes': [{'args': [k3_tensor('lstm_1', [None, None, H])], 'kwargs': {}}]},
    ]
    cfg3 = k3_model('Functional', {'name': 'functional', 'trainable': True, 'layers': k3_layers,
                                   'input_layers': ['series', 0, 0], 'output_layers': ['time_distributed', 0, 0]}, 'mse')
    store = k3_store([('layers/input_layer', []), ('layers/lstm', [('cell/', [W1, U1, b1])]), ('layers/dropout', []),
                      ('layers/lstm_1', [('cell/', [W2, U2, b2])]), ('layers/time_distributed', [('layer/', [K, c])])])
    write('lstm-stack', config, weights, x, y, 'functional LSTM -> Dropout -> LSTM -> TimeDistributed(Dense, linear); output [B, T, O]',
          loss='mse', formats=('json', 'h5'), keras3=(cfg3, store))


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
    # Keras 3: Bidirectional records its forward layer (named forward_lstm) and the backward copy (go_backwards
    # true); the weights sit under forward_layer/cell and backward_layer/cell
    def bi3(name, inner, rs, shp):
        fwd = k3_rnn('LSTM', f'forward_{inner}', H, rs, shp)
        bwd = k3_rnn('LSTM', f'backward_{inner}', H, rs, shp, go_backwards=True)
        return k3('Bidirectional', {'name': name, 'trainable': True, 'dtype': k3_dtype(), 'merge_mode': 'concat',
                                    'layer': fwd, 'backward_layer': bwd}, build_config={'input_shape': shp})
    cfg3 = k3_model('Sequential', {'name': 'sequential_1', 'trainable': True, 'dtype': k3_dtype(), 'layers': [
        k3_input('input_layer', [None, None, F]), bi3('bidirectional', 'lstm', True, [None, None, F]),
        bi3('bidirectional_1', 'lstm_1', False, [None, None, 2 * H]), k3_dense('dense', O, 'softmax', [None, 2 * H])]},
        'sparse_categorical_crossentropy')
    store = k3_store([('layers/bidirectional', [('forward_layer/', []), ('forward_layer/cell/', p['f1']), ('backward_layer/', []), ('backward_layer/cell/', p['b1'])]),
                      ('layers/bidirectional_1', [('forward_layer/', []), ('forward_layer/cell/', p['f2']), ('backward_layer/', []), ('backward_layer/cell/', p['b2'])]),
                      ('layers/dense', [('', [K, c])])])
    write('bilstm', config, weights, x, y, 'Bidirectional(LSTM, seq) -> Bidirectional(LSTM) -> Dense(softmax), concat; output [B, O]',
          formats=('json', 'h5'), keras3=(cfg3, store))


def gru_logits():
    """What Keras tutorials end with: Embedding(mask_zero) -> GRU (reset_after, the Keras 2 and 3 default) -> Dense(4) with no
    activation, compiled with SparseCategoricalCrossentropy(from_logits=True); the expected output is the logits [B, O]."""
    V, E, H, O = 12, 5, 6, 4
    emb, W, U, b, K, c = w(V, E), w(E, 3 * H), w(H, 3 * H), w(2, 3 * H), w(H, O), w(O)
    x = rng.integers(1, V, size=(3, 6))
    x[0, 4:] = 0
    x[2, 2:] = 0
    mask = (x != 0).astype(np.float64)
    f64 = lambda a: a.astype(np.float64)
    _, h = gru_reset_after_seq(f64(emb)[x], mask, f64(W), f64(U), f64(b))
    y = h @ f64(K) + f64(c)
    loss2 = {'class_name': 'SparseCategoricalCrossentropy',
             'config': {'reduction': 'auto', 'name': 'sparse_categorical_crossentropy', 'from_logits': True, 'ignore_class': None}}
    emb2 = {'class_name': 'Embedding', 'config': {'name': 'embedding', 'trainable': True, 'batch_input_shape': [None, None],
                                                  'dtype': 'float32', 'input_dim': V, 'output_dim': E,
                                                  'embeddings_initializer': initializer('RandomUniform', minval=-0.05, maxval=0.05, seed=None),
                                                  'embeddings_regularizer': None, 'activity_regularizer': None,
                                                  'embeddings_constraint': None, 'mask_zero': True, 'input_length': None}}
    config = {'class_name': 'Sequential', 'config': {'name': 'sequential', 'layers': [
        {'class_name': 'InputLayer', 'config': {'batch_input_shape': [None, None], 'dtype': 'float32', 'sparse': False,
                                                'ragged': False, 'name': 'embedding_input'}},
        emb2, rnn_config('GRU', 'gru', H, False), dense_config('dense', O, 'linear')]}}
    weights = [('embedding/embeddings', emb), ('gru/gru_cell/kernel', W), ('gru/gru_cell/recurrent_kernel', U),
               ('gru/gru_cell/bias', b), ('dense/kernel', K), ('dense/bias', c)]
    loss3 = k3('SparseCategoricalCrossentropy', {'name': 'sparse_categorical_crossentropy', 'reduction': 'sum_over_batch_size',
                                                 'from_logits': True, 'ignore_class': None}, module='keras.losses')
    emb3 = k3('Embedding', {'name': 'embedding', 'trainable': True, 'dtype': k3_dtype(), 'input_dim': V, 'output_dim': E,
                            'embeddings_initializer': k3_init('RandomUniform', minval=-0.05, maxval=0.05, seed=None),
                            'embeddings_regularizer': None, 'activity_regularizer': None, 'embeddings_constraint': None,
                            'mask_zero': True, 'lora_rank': None}, build_config={'input_shape': [None, None]})
    cfg3 = k3_model('Sequential', {'name': 'sequential', 'trainable': True, 'dtype': k3_dtype(), 'layers': [
        k3_input('input_layer', [None, None], 'int32'), emb3, k3_rnn('GRU', 'gru', H, False, [None, None, E]),
        k3_dense('dense', O, None, [None, H])]}, loss3)
    cfg3['config']['layers'][3]['config']['activation'] = 'linear'
    store = k3_store([('layers/embedding', [('', [emb])]), ('layers/gru', [('cell/', [W, U, b])]), ('layers/dense', [('', [K, c])])])
    write('gru-logits', config, weights, x.astype(np.int32), y,
          'Embedding(mask_zero) -> GRU(reset_after=True) -> Dense(4, linear), compiled with SparseCategoricalCrossentropy(from_logits=True); output = logits [B, O]',
          'int32', loss=loss2, formats=('json', 'h5'), keras3=(cfg3, store))


if __name__ == '__main__':
    gru_reset_after()
    lstm_stack()
    bilstm()
    gru_logits()
    print('wrote', ', '.join(sorted(os.listdir(ROOT))), 'in', os.path.normpath(ROOT))
