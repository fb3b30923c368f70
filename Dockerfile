# The Flow Centre image: one image for every part, chosen by the command it is given
# (`worker`, `api`, `simulate`, `rebuild`, ...), configured by FLOWCENTRE_* variables.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src

# The dependencies first, in a layer of their own, so that a change to the code alone
# does not download and install them again.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .
RUN pip install . \
    && cp -r ui /opt/flowcentre-ui \
    && cd / \
    && rm -rf /src
# The whiteboard pages are not Python package data; the API serves them from here.
ENV FLOWCENTRE_UI_DIR=/opt/flowcentre-ui

# No process needs privileges. The user is numeric so that an orchestrator can verify
# it is not root without looking inside the image.
RUN groupadd --system --gid 10001 flowcentre \
    && useradd --system --uid 10001 --gid flowcentre --create-home \
        --home-dir /home/flowcentre --shell /usr/sbin/nologin flowcentre
USER 10001:10001
WORKDIR /home/flowcentre

EXPOSE 8000
ENTRYPOINT ["flowcentre"]
CMD ["--help"]
