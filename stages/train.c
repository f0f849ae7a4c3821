/* train.c: quanta-train, fit a model file's network to a stream and write
 * a checkpoint.  The loop is nn/train.c; docs/stages/train.md is the
 * manual. */
#include "common/cli.h"
#include "common/error.h"
#include "nn/net.h"
#include "nn/train.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
	"Usage: quanta train --model FILE.net -o CHECKPOINT.h5 [OPTIONS]\n"
	"Train the network of a model file on a stream; write an HDF5 checkpoint.\n"
	"\n"
	"  -m, --model FILE          the model file (models/*.net)\n"
	"  -i, --input ENDPOINT      training stream (default '-': stdin)\n"
	"  -o, --output FILE         the checkpoint to write (atomically)\n"
	"      --val ENDPOINT        a validation stream, evaluated every epoch\n"
	"      --val-fraction F      or hold out this fraction of the input\n"
	"  -e, --epochs N            epochs (default: the model's, else 10)\n"
	"  -b, --batch N             samples per step (default: the model's, else 32)\n"
	"      --optimizer NAME      sgd, adam, adamw or adamax (default: the model's)\n"
	"      --lr X                learning rate (default: the model's)\n"
	"      --weight-decay X      weight decay (default: the model's, else 0)\n"
	"      --schedule SPEC       none, step:N[:GAMMA], cosine[:T[:MIN]],\n"
	"                            plateau[:PATIENCE[:FACTOR]] (default none)\n"
	"      --early-stopping N    stop after N epochs without a better val_loss;\n"
	"                            the checkpoint then holds the best epoch's\n"
	"                            whole state (weights, optimizer, history)\n"
	"      --checkpoint-every N  also write the checkpoint every N epochs\n"
	"      --resume CHECKPOINT   continue a training run (model, weights,\n"
	"                            optimizer state, history) up to --epochs\n"
	"      --log FILE            per-epoch metrics as JSON lines\n"
	"      --seed S              initial weights, shuffling, dropout (default 1)\n"
	"  -j, --threads N           CPU threads (default: all; results do not\n"
	"                            depend on it)\n"
	"      --device DEV          cpu (default) or cuda\n"
	"      --set NAME=VALUE      replace a `param` of the model file (repeatable)\n"
	"      --summary             print the network's layers and parameters, exit\n"
	"  -q, --quiet               no per-epoch lines on stderr\n"
	"  -h, --help                show this help\n"
	"  -V, --version             show the version\n"
	"\n"
	"Examples:\n"
	"  quanta train --model models/jets.net --summary\n"
	"  quanta simulate jets -n 20000 | quanta train --model models/jets.net \\\n"
	"      --val-fraction 0.1 --log train.jsonl -o jets.h5\n";

enum {
	OPT_VAL = 256, OPT_VALFRAC, OPT_OPTIMIZER, OPT_LR, OPT_WD, OPT_SCHED,
	OPT_EARLY, OPT_EVERY, OPT_RESUME, OPT_LOG, OPT_SEED, OPT_DEVICE,
	OPT_SUMMARY, OPT_SET
};

static const struct option longopts[] = {
	{"model", required_argument, NULL, 'm'},
	{"input", required_argument, NULL, 'i'},
	{"output", required_argument, NULL, 'o'},
	{"val", required_argument, NULL, OPT_VAL},
	{"val-fraction", required_argument, NULL, OPT_VALFRAC},
	{"epochs", required_argument, NULL, 'e'},
	{"batch", required_argument, NULL, 'b'},
	{"optimizer", required_argument, NULL, OPT_OPTIMIZER},
	{"lr", required_argument, NULL, OPT_LR},
	{"weight-decay", required_argument, NULL, OPT_WD},
	{"schedule", required_argument, NULL, OPT_SCHED},
	{"early-stopping", required_argument, NULL, OPT_EARLY},
	{"checkpoint-every", required_argument, NULL, OPT_EVERY},
	{"resume", required_argument, NULL, OPT_RESUME},
	{"log", required_argument, NULL, OPT_LOG},
	{"seed", required_argument, NULL, OPT_SEED},
	{"threads", required_argument, NULL, 'j'},
	{"device", required_argument, NULL, OPT_DEVICE},
	{"summary", no_argument, NULL, OPT_SUMMARY},
	{"set", required_argument, NULL, OPT_SET},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0}
};

static int summary(const char *path, const char *const *set, int nset)
{
	qt_model *m = NULL;
	qt_net *net = NULL;
	qt_net_cfg cfg = {.dtype = QT_F32, .max_batch = 1};
	int rc = qt_model_load_set(&m, path, set, nset);
	if (!rc)
		rc = qt_net_build(&net, m, &cfg);
	if (!rc)
		qt_net_summary(net, stdout);
	qt_net_free(net);
	qt_model_free(m);
	return rc;
}

int main(int argc, char **argv)
{
	qt_train_opts o = {.input = "-", .lr = -1, .weight_decay = -1,
			   .seed = 1, .argc = argc, .argv = argv};
	int c, rc = 0, want_summary = 0, nset = 0;
	const char *set[64];
	long long v;
	const char *device = "cpu";

	qt_cli_init("train", argc, argv);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":m:i:o:e:b:j:qhV", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'm': o.model = optarg; break;
		case 'i': o.input = optarg; break;
		case 'o': o.output = optarg; break;
		case OPT_VAL: o.val_input = optarg; break;
		case OPT_VALFRAC:
			rc = qt_parse_double(optarg, "--val-fraction", 0, 0.99,
					     &o.val_fraction);
			break;
		case 'e':
			rc = qt_parse_int(optarg, "--epochs", 1, 1000000, &v);
			o.epochs = (int)v;
			break;
		case 'b':
			rc = qt_parse_int(optarg, "--batch", 1, 1 << 24, &v);
			o.batch = (int)v;
			break;
		case OPT_OPTIMIZER:
			if (strcmp(optarg, "sgd") && strcmp(optarg, "adam") &&
			    strcmp(optarg, "adamw") && strcmp(optarg, "adamax"))
				return qt_cli_usage("--optimizer: '%s' is not sgd, "
						    "adam, adamw or adamax", optarg);
			o.optimizer = optarg;
			break;
		case OPT_LR:
			rc = qt_parse_double(optarg, "--lr", 0, 1e3, &o.lr);
			break;
		case OPT_WD:
			rc = qt_parse_double(optarg, "--weight-decay", 0, 1e3,
					     &o.weight_decay);
			break;
		case OPT_SCHED: o.schedule = optarg; break;
		case OPT_EARLY:
			rc = qt_parse_int(optarg, "--early-stopping", 1, 1000000, &v);
			o.early_stopping = (int)v;
			break;
		case OPT_EVERY:
			rc = qt_parse_int(optarg, "--checkpoint-every", 1, 1000000,
					  &v);
			o.checkpoint_every = (int)v;
			break;
		case OPT_RESUME: o.resume = optarg; break;
		case OPT_LOG: o.log = optarg; break;
		case OPT_SEED:
			rc = qt_parse_int(optarg, "--seed", 0, INT64_MAX, &v);
			o.seed = (uint64_t)v;
			break;
		case 'j':
			rc = qt_parse_int(optarg, "--threads", 1, 1024, &v);
			o.threads = (int)v;
			break;
		case OPT_DEVICE: device = optarg; break;
		case OPT_SUMMARY: want_summary = 1; break;
		case OPT_SET:
			if (nset == 64)
				return qt_cli_usage("--set: at most 64 values");
			set[nset++] = optarg;
			break;
		case 'q': o.quiet = 1; break;
		case 'h': return qt_cli_help(help);
		case 'V': return qt_cli_version();
		case ':': return qt_cli_bad_option(argv, 1);
		default: return qt_cli_bad_option(argv, 0);
		}
		if (rc < 0)
			return qt_cli_usage("%s", qt_error_message(rc));
	}
	if (optind < argc)
		return qt_cli_usage("unexpected argument '%s'", argv[optind]);
	if (strcmp(device, "cpu") && strcmp(device, "cuda"))
		return qt_cli_usage("--device: '%s' is not cpu or cuda", device);
	if (!strcmp(device, "cuda"))
		return qt_cli_finish(qt_error(QT_ENODEV, "--device cuda: the "
					      "CUDA backend has no training "
					      "kernels in this version; use "
					      "--device cpu"));
	if (want_summary) {
		if (!o.model)
			return qt_cli_usage("--summary needs --model FILE");
		return qt_cli_finish(summary(o.model, set, nset));
	}
	o.set = set;
	o.nset = nset;
	if (!o.model && !o.resume)
		return qt_cli_usage("give --model FILE (or --resume CHECKPOINT)");
	if (o.model && o.resume)
		return qt_cli_usage("--resume takes the model from the checkpoint; "
				    "drop --model");
	if (!o.output && o.resume)
		o.output = o.resume;
	if (!o.output)
		return qt_cli_usage("give the checkpoint to write with -o FILE");
	if (o.val_input && o.val_fraction > 0)
		return qt_cli_usage("give --val or --val-fraction, not both");
	return qt_cli_finish(qt_train(&o));
}
