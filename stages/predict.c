/* predict.c: quanta-predict, add a trained network's predictions to a
 * stream, batch by batch in bounded memory (nn/predict.c does the work;
 * docs/stages/predict.md is the manual). */
#include "common/cli.h"
#include "common/error.h"
#include "common/threadpool.h"
#include "nn/predict.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char help[] =
	"Usage: quanta predict --model CHECKPOINT.h5 [OPTIONS]\n"
	"Add a trained network's predictions to every sample of a stream.\n"
	"\n"
	"  -m, --model FILE          the checkpoint written by quanta train\n"
	"  -i, --input ENDPOINT      stream to read (default '-': stdin)\n"
	"  -o, --output ENDPOINT     stream to write (default '-': stdout)\n"
	"  -b, --batch N             samples per network pass (default 1000)\n"
	"  -j, --threads N           CPU threads (default: all)\n"
	"      --ignore-preprocessing  predict even when the stream's\n"
	"                            preprocessing differs from training's\n"
	"  -h, --help                show this help\n"
	"  -V, --version             show the version\n"
	"\n"
	"Classification adds 'prob' (class probabilities) and 'pred' (the most\n"
	"probable class, with class names); regression adds 'pred' (the values).\n"
	"The input must have the fields, dtypes and shapes the network was\n"
	"trained on, and the same preprocessing (normalisation parameters).\n"
	"\n"
	"Example:\n"
	"  quanta predict --model jets.h5 -i test.qs | quanta evaluate\n";

static const struct option longopts[] = {
	{"model", required_argument, NULL, 'm'},
	{"input", required_argument, NULL, 'i'},
	{"output", required_argument, NULL, 'o'},
	{"batch", required_argument, NULL, 'b'},
	{"threads", required_argument, NULL, 'j'},
	{"ignore-preprocessing", no_argument, NULL, 'P'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0}
};

int main(int argc, char **argv)
{
	const char *model = NULL, *in = "-", *out = "-";
	long long batch = 1000, threads = 0;
	int ignore = 0, c, rc = 0;
	qt_reader *r = NULL;
	qt_writer *w = NULL;
	qt_predictor *p = NULL;
	qt_pool *pool = NULL;
	qt_header *h = NULL;
	const qt_header *oh;
	qt_batch *b, *ob;

	qt_cli_init("predict", argc, argv);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":m:i:o:b:j:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case 'i': in = optarg; break;
		case 'o': out = optarg; break;
		case 'b': rc = qt_parse_int(optarg, "--batch", 1, 1 << 24, &batch); break;
		case 'j': rc = qt_parse_int(optarg, "--threads", 1, 1024, &threads); break;
		case 'P': ignore = 1; break;
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
	if (!model)
		return qt_cli_usage("give the checkpoint with --model FILE");
	if (!(pool = qt_pool_new((int)threads))) {
		rc = qt_error(QT_ENOMEM, "cannot start threads");
		goto out;
	}
	if ((rc = qt_reader_open(&r, in)) < 0)
		goto out;
	if ((rc = qt_predictor_open(&p, model, qt_reader_header(r), batch, pool,
				    ignore, &oh)) < 0)
		goto out;
	if (!(h = qt_header_clone(oh))) {
		rc = QT_ENOMEM;
		goto out;
	}
	if ((rc = qt_cli_provenance(h)) < 0)
		goto out;
	if ((rc = qt_writer_open(&w, out, h)) < 0)
		goto out;
	while ((rc = qt_reader_next(r, &b)) > 0) {
		rc = qt_predictor_run(p, b, &ob);
		qt_batch_free(b);
		if (rc < 0)
			break;
		rc = qt_writer_write(w, ob);
		qt_batch_free(ob);
		if (rc < 0)
			break;
	}
	if (rc == 0) {
		rc = qt_writer_close(w);
		w = NULL;
	}
out:
	qt_writer_abort(w);
	qt_predictor_close(p);
	qt_reader_close(r);
	qt_header_free(h);
	qt_pool_free(pool);
	return qt_cli_finish(rc);
}
