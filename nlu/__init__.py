"""Pure text understanding for 银龄志愿助手: one message in, a Rasa ``/model/parse`` dict out."""

from nlu.parser import Parser, parse

__all__ = ["Parser", "parse"]
